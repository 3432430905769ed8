// SPDX-License-Identifier: GPL-2.0
/*
 * TEST-ONLY module, for mymap's target tests; not a driver, never shipped
 * (cargo xtask puts it into the test image only).
 *
 * A GPIO chip whose interrupts are nested-threaded, as an I2C or SPI GPIO
 * expander's are (pca953x, mcp23s08, pcf857x): gpiolib's irqchip with
 * girq->threaded set, so every line's interrupt is IRQ_NESTED_THREAD and its
 * handlers run in the thread that calls handle_nested_irq(); the chip sleeps
 * (can_sleep), and its irq_chip has the slow-bus lock such chips have. QEMU
 * models no such expander on the test boards, and gpio-sim's interrupts are
 * not nested (irq_sim raises them from an irq_work, in hard interrupt
 * context), so this chip stands in for one.
 *
 * The lines are inputs whose values the test sets from process context:
 *
 *	modprobe mymap_test_nested_gpio [label=mymap-nested]
 *	echo '2 1' > /sys/module/mymap_test_nested_gpio/parameters/line
 *
 * sets line 2 high; when that is an edge the line's interrupt is enabled and
 * configured for, handle_nested_irq() runs its handlers in the writer's
 * context before the write returns, and `fired` counts it.
 */

#include <linux/bitmap.h>
#include <linux/gpio/driver.h>
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>

#define NGPIO 4

static char *label = "mymap-nested";
module_param(label, charp, 0444);
MODULE_PARM_DESC(label, "The chip's label (gpio=LABEL:OFFSET finds it by it)");

static unsigned int fired;
module_param(fired, uint, 0444);
MODULE_PARM_DESC(fired, "Interrupts fired through handle_nested_irq()");

static struct {
	struct gpio_chip gc;
	/* Serialises `line` writes and teardown; held while handlers run. */
	struct mutex lock;
	/* Under `lock`: the chip is registered. */
	bool registered;
	/* Line values; written under `lock`, read by .get without it. */
	DECLARE_BITMAP(values, NGPIO);
	/* Interrupts unmasked, and their trigger types (irq_chip callbacks). */
	DECLARE_BITMAP(enabled, NGPIO);
	unsigned int trigger[NGPIO];
	/* The slow-bus lock of irq_bus_lock/irq_bus_sync_unlock. */
	struct mutex irq_lock;
} chip;

static int nested_get_direction(struct gpio_chip *gc, unsigned int offset)
{
	return GPIO_LINE_DIRECTION_IN;
}

static int nested_direction_input(struct gpio_chip *gc, unsigned int offset)
{
	return 0;
}

static int nested_get(struct gpio_chip *gc, unsigned int offset)
{
	return test_bit(offset, chip.values);
}

static void nested_irq_mask(struct irq_data *d)
{
	irq_hw_number_t hwirq = irqd_to_hwirq(d);

	clear_bit(hwirq, chip.enabled);
	gpiochip_disable_irq(&chip.gc, hwirq);
}

static void nested_irq_unmask(struct irq_data *d)
{
	irq_hw_number_t hwirq = irqd_to_hwirq(d);

	gpiochip_enable_irq(&chip.gc, hwirq);
	set_bit(hwirq, chip.enabled);
}

static int nested_irq_set_type(struct irq_data *d, unsigned int type)
{
	if (type & ~IRQ_TYPE_EDGE_BOTH)
		return -EINVAL;
	WRITE_ONCE(chip.trigger[irqd_to_hwirq(d)], type);
	return 0;
}

static void nested_irq_bus_lock(struct irq_data *d)
{
	mutex_lock(&chip.irq_lock);
}

static void nested_irq_bus_sync_unlock(struct irq_data *d)
{
	mutex_unlock(&chip.irq_lock);
}

static const struct irq_chip nested_irq_chip = {
	.name = "mymap-test-nested",
	.irq_mask = nested_irq_mask,
	.irq_unmask = nested_irq_unmask,
	.irq_set_type = nested_irq_set_type,
	.irq_bus_lock = nested_irq_bus_lock,
	.irq_bus_sync_unlock = nested_irq_bus_sync_unlock,
	.flags = IRQCHIP_IMMUTABLE | IRQCHIP_SKIP_SET_WAKE,
	GPIOCHIP_IRQ_RESOURCE_HELPERS,
};

/* "OFFSET VALUE": sets a line, firing its interrupt on a matching edge. */
static int line_set(const char *val, const struct kernel_param *kp)
{
	unsigned int offset, value, type, irq;

	if (sscanf(val, "%u %u", &offset, &value) != 2 || offset >= NGPIO ||
	    value > 1)
		return -EINVAL;

	guard(mutex)(&chip.lock);
	if (!chip.registered)
		return -ENODEV;
	if (test_bit(offset, chip.values) == value)
		return 0;
	assign_bit(offset, chip.values, value);

	type = READ_ONCE(chip.trigger[offset]);
	if (!test_bit(offset, chip.enabled) ||
	    !(type & (value ? IRQ_TYPE_EDGE_RISING : IRQ_TYPE_EDGE_FALLING)))
		return 0;
	irq = irq_find_mapping(chip.gc.irq.domain, offset);
	if (!irq)
		return 0;
	/* As an expander's interrupt thread does, in process context. */
	handle_nested_irq(irq);
	WRITE_ONCE(fired, fired + 1);
	return 0;
}

static const struct kernel_param_ops line_ops = {
	.set = line_set,
};
module_param_cb(line, &line_ops, NULL, 0200);
MODULE_PARM_DESC(line, "Write \"OFFSET VALUE\" to set a line (and fire its edge)");

static int __init nested_gpio_init(void)
{
	struct gpio_irq_chip *girq;
	int ret;

	mutex_init(&chip.lock);
	mutex_init(&chip.irq_lock);
	chip.gc.label = label;
	chip.gc.owner = THIS_MODULE;
	chip.gc.base = -1;
	chip.gc.ngpio = NGPIO;
	chip.gc.can_sleep = true;
	chip.gc.get_direction = nested_get_direction;
	chip.gc.direction_input = nested_direction_input;
	chip.gc.get = nested_get;

	girq = &chip.gc.irq;
	gpio_irq_chip_set_chip(girq, &nested_irq_chip);
	girq->handler = handle_simple_irq;
	girq->default_type = IRQ_TYPE_NONE;
	/* What makes gpiolib mark every line's interrupt IRQ_NESTED_THREAD. */
	girq->threaded = true;

	ret = gpiochip_add_data(&chip.gc, NULL);
	if (ret)
		return ret;
	scoped_guard(mutex, &chip.lock)
		chip.registered = true;
	pr_info("mymap_test_nested_gpio: chip %s, %d lines, nested-threaded interrupts\n",
		label, NGPIO);
	return 0;
}

static void __exit nested_gpio_exit(void)
{
	scoped_guard(mutex, &chip.lock)
		chip.registered = false;
	gpiochip_remove(&chip.gc);
}

module_init(nested_gpio_init);
module_exit(nested_gpio_exit);

MODULE_DESCRIPTION("TEST-ONLY GPIO chip with nested-threaded interrupts, for mymap's tests");
MODULE_LICENSE("GPL");
