// SPDX-License-Identifier: GPL-2.0
/*
 * The GPIO consumer calls of the GPIO producer (gpio.rs). The 7.3 Rust
 * bindings do not include <linux/gpio/consumer.h> or <linux/gpio/machine.h>,
 * so these few wrappers are C, where the compiler checks them against the
 * real declarations; everything else of the producer is Rust. Their
 * prototypes, and what each does, are in gpio_glue.h, which gpio.rs's
 * declarations are generated from.
 */
#include <linux/device.h>
#include <linux/err.h>
#include <linux/gpio/consumer.h>
#include <linux/gpio/driver.h>
#include <linux/gpio/machine.h>
#include <linux/slab.h>

#include "gpio_glue.h"

static struct gpio_desc *mymap_gpio_get_flags(struct device *dev,
					      const char *label,
					      unsigned int offset,
					      enum gpiod_flags flags)
{
	struct gpiod_lookup_table *table;
	struct gpio_device *gdev;
	struct gpio_desc *desc;

	gdev = gpio_device_find_by_label(label);
	if (!gdev)
		return ERR_PTR(-ENODEV);
	desc = gpio_device_get_desc(gdev, offset);
	gpio_device_put(gdev);
	if (IS_ERR(desc))
		return ERR_PTR(-EINVAL);

	table = kzalloc(struct_size(table, table, 2), GFP_KERNEL);
	if (!table)
		return ERR_PTR(-ENOMEM);
	table->dev_id = dev_name(dev);
	table->table[0] = GPIO_LOOKUP(label, offset, "mymap", GPIO_ACTIVE_HIGH);
	gpiod_add_lookup_table(table);
	desc = gpiod_get(dev, "mymap", flags);
	gpiod_remove_lookup_table(table);
	kfree(table);
	return desc;
}

struct gpio_desc *mymap_gpio_get(struct device *dev, const char *label,
				 unsigned int offset)
{
	return mymap_gpio_get_flags(dev, label, offset, GPIOD_IN);
}

struct gpio_desc *mymap_gpio_get_output(struct device *dev, const char *label,
					unsigned int offset)
{
	return mymap_gpio_get_flags(dev, label, offset, GPIOD_OUT_LOW);
}

void mymap_gpio_set(struct gpio_desc *desc, int value)
{
	gpiod_set_value(desc, value);
}

void mymap_gpio_set_cansleep(struct gpio_desc *desc, int value)
{
	gpiod_set_value_cansleep(desc, value);
}

struct gpio_desc *mymap_gpio_get_dt(struct device *dev)
{
	return gpiod_get(dev, "mymap", GPIOD_IN);
}

void mymap_gpio_put(struct gpio_desc *desc)
{
	gpiod_put(desc);
}

int mymap_gpio_to_irq(struct gpio_desc *desc)
{
	return gpiod_to_irq(desc);
}

int mymap_gpio_cansleep(struct gpio_desc *desc)
{
	return gpiod_cansleep(desc);
}

int mymap_gpio_value(struct gpio_desc *desc)
{
	return gpiod_get_value(desc);
}

int mymap_gpio_value_cansleep(struct gpio_desc *desc)
{
	return gpiod_get_value_cansleep(desc);
}
