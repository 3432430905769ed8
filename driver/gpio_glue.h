/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The GPIO glue (gpio_glue.c): the GPIO consumer calls of the GPIO producer
 * (gpio.rs) that the 7.3 Rust bindings lack. gpio_glue.c includes this
 * header, so the C compiler checks the definitions against it; `cargo xtask
 * codegen` generates gpio.rs's declarations from it (glue_generated.rs), so
 * the Rust side cannot drift from it either.
 *
 * Only forward-declared structs and C types here: bindgen reads this header
 * without the kernel's include path.
 */
#ifndef MYMAP_GPIO_GLUE_H
#define MYMAP_GPIO_GLUE_H

struct device;
struct gpio_desc;

/*
 * Requests line @offset of the chip labelled @label as an input for @dev,
 * through a lookup table that lives only for the call. ERR_PTR(-ENODEV) if
 * no chip has that label, -EINVAL if it has no such line, -EBUSY if the line
 * is taken. Process context.
 */
struct gpio_desc *mymap_gpio_get(struct device *dev, const char *label,
				 unsigned int offset);

/*
 * As mymap_gpio_get(), as an output driven low (the GPIO player's lines).
 * Process context.
 */
struct gpio_desc *mymap_gpio_get_output(struct device *dev, const char *label,
					unsigned int offset);

/* Sets an output line; only for a chip that cannot sleep. Any context. */
void mymap_gpio_set(struct gpio_desc *desc, int value);

/* Sets an output line; any chip. Process context. */
void mymap_gpio_set_cansleep(struct gpio_desc *desc, int value);

/* Requests the device tree's mymap-gpios line of @dev as an input. Process context. */
struct gpio_desc *mymap_gpio_get_dt(struct device *dev);

/* Releases a line from mymap_gpio_get() or mymap_gpio_get_dt(). Process context. */
void mymap_gpio_put(struct gpio_desc *desc);

/* The line's interrupt number, or a negative errno. */
int mymap_gpio_to_irq(struct gpio_desc *desc);

/* Non-zero if reading the line may sleep (its chip is on a slow bus). */
int mymap_gpio_cansleep(struct gpio_desc *desc);

/*
 * The line's logical value (0 or 1), or a negative errno; only for a chip
 * that cannot sleep. Any context.
 */
int mymap_gpio_value(struct gpio_desc *desc);

/* The line's logical value (0 or 1), or a negative errno; any chip. Process context. */
int mymap_gpio_value_cansleep(struct gpio_desc *desc);

#endif /* MYMAP_GPIO_GLUE_H */
