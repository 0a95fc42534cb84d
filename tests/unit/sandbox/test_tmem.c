/* The target-memory reader (src/supervisor/tmem.c) on this very process:
 * process_vm_readv and /proc/self/mem treat our own pages as they treat a
 * target's. Strings on PROT_WRITE-only pages are read (the kernel reads
 * them for an exec), a string ending at the end of a mapping is read, one
 * running into a hole is an error and never a prefix, a long one is cut
 * with the cut said. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/tmem.h"

#define PG 4096

/* pages read-write pages followed by one unmapped page */
static char *pages_then_hole(size_t pages)
{
	char *p = mmap(NULL, (pages + 1) * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	               -1, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(munmap(p + pages * PG, PG), 0);
	return p;
}

static ssize_t read_str(uint64_t addr, char *buf, size_t cap, bool *trunc, bool *via_mem)
{
	struct al_tmem m;
	ssize_t r;

	al_tmem_init(&m, getpid());
	r = al_tmem_string(&m, addr, buf, cap, trunc);
	*via_mem = m.used_mem;
	al_tmem_close(&m);
	return r;
}

static void write_only_page_is_read(void **state)
{
	char *p = pages_then_hole(1), buf[64];
	bool t, mem;

	(void)state;
	strcpy(p, "/usr/bin/true");
	assert_int_equal(mprotect(p, PG, PROT_WRITE), 0);
	assert_int_equal(read_str((uintptr_t)p, buf, sizeof buf, &t, &mem), 13);
	assert_string_equal(buf, "/usr/bin/true");
	assert_false(t);
	assert_true(mem); /* process_vm_readv alone could not */
	munmap(p, PG);
}

static void string_ending_at_mapping_end_is_read(void **state)
{
	char *p = pages_then_hole(1), buf[64];
	bool t, mem;

	(void)state;
	memcpy(p + PG - 6, "/bin/", 6); /* the NUL is the mapping's last byte */
	assert_int_equal(read_str((uintptr_t)(p + PG - 6), buf, sizeof buf, &t, &mem), 5);
	assert_string_equal(buf, "/bin/");
	assert_false(t);
	assert_false(mem);
	munmap(p, PG);
}

static void string_into_hole_is_an_error_not_a_prefix(void **state)
{
	char *p = pages_then_hole(1), buf[64];
	bool t, mem;

	(void)state;
	memcpy(p + PG - 5, "/usr/", 5); /* no NUL before the hole */
	assert_int_equal(read_str((uintptr_t)(p + PG - 5), buf, sizeof buf, &t, &mem), -EFAULT);
	munmap(p, PG);
}

static void page_crossing_string_is_read(void **state)
{
	char *p = pages_then_hole(2), buf[64];
	bool t, mem;

	(void)state;
	memcpy(p + PG - 4, "/usr/bin/env", 13);
	/* the second page write-only: the fallback continues where the first
	 * reader stopped */
	assert_int_equal(mprotect(p + PG, PG, PROT_WRITE), 0);
	assert_int_equal(read_str((uintptr_t)(p + PG - 4), buf, sizeof buf, &t, &mem), 12);
	assert_string_equal(buf, "/usr/bin/env");
	assert_true(mem);
	munmap(p, 2 * PG);
}

static void long_string_is_cut_and_says_so(void **state)
{
	char *p = pages_then_hole(2), buf[100];
	bool t, mem;

	(void)state;
	memset(p, 'a', 2 * PG - 1);
	p[2 * PG - 1] = '\0';
	assert_int_equal(read_str((uintptr_t)p, buf, sizeof buf, &t, &mem), 99);
	assert_true(t);
	assert_int_equal(strlen(buf), 99);
	munmap(p, 2 * PG);
}

static void exact_read_is_all_or_nothing(void **state)
{
	char *p = pages_then_hole(1), buf[16];
	struct al_tmem m;

	(void)state;
	al_tmem_init(&m, getpid());
	assert_int_equal(al_tmem_read(&m, (uintptr_t)(p + PG - 8), buf, 8), 0);
	assert_int_equal(al_tmem_read(&m, (uintptr_t)(p + PG - 8), buf, 16), -EFAULT);
	assert_int_equal(al_tmem_read(&m, 16, buf, 8), -EFAULT);
	al_tmem_close(&m);
	munmap(p, PG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(write_only_page_is_read),
	    cmocka_unit_test(string_ending_at_mapping_end_is_read),
	    cmocka_unit_test(string_into_hole_is_an_error_not_a_prefix),
	    cmocka_unit_test(page_crossing_string_is_read),
	    cmocka_unit_test(long_string_is_cut_and_says_so),
	    cmocka_unit_test(exact_read_is_all_or_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
