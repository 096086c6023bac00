/*
 * test_log: the pieces of common/log.c that decide what a line starts with:
 * whether stderr is the journal (JOURNAL_STREAM), the timestamp and the
 * journal's priority prefix. Writing to stderr, the journal and syslog is
 * tested end to end (tests/e2e/test_logging.py).
 */
#include <criterion/criterion.h>

#include <string.h>

#include "common/log.h"

Test(log, journal_stream_must_name_stderr)
{
    cr_expect(log_journal_match("8:12345", 8, 12345));
    cr_expect(log_journal_match("0:1", 0, 1));
    cr_expect(log_journal_match("64768:18446744073709551615", 64768, (ino_t)-1));
    cr_expect_not(log_journal_match("8:12346", 8, 12345), "another inode");
    cr_expect_not(log_journal_match("9:12345", 8, 12345), "another device");
    cr_expect_not(log_journal_match(NULL, 8, 12345));
    cr_expect_not(log_journal_match("", 8, 12345));
    cr_expect_not(log_journal_match("8", 8, 12345));
    cr_expect_not(log_journal_match("8:", 8, 12345));
    cr_expect_not(log_journal_match(":12345", 8, 12345));
    cr_expect_not(log_journal_match("8:12345x", 8, 12345));
    cr_expect_not(log_journal_match("8:-12345", 8, 12345));
    cr_expect_not(log_journal_match(" 8:12345", 8, 12345));
    cr_expect_not(log_journal_match("8:99999999999999999999999", 8, 12345), "overflow");
}

Test(log, prefixes)
{
    /* 2023-11-14T22:13:20.042Z */
    struct timespec t = {.tv_sec = 1700000000, .tv_nsec = 42999999};
    char buf[LOG_PREFIX_MAX];

    cr_expect_eq(log_prefix(LOG_TO_STDERR, LOG_LEVEL_INFO, &t, buf, sizeof(buf)), 25);
    cr_expect_str_eq(buf, "2023-11-14T22:13:20.042Z ");
    t.tv_nsec = 999999999; /* milliseconds are cut, never rounded into the next second */
    log_prefix(LOG_TO_STDERR, LOG_LEVEL_INFO, &t, buf, sizeof(buf));
    cr_expect_str_eq(buf, "2023-11-14T22:13:20.999Z ");
    /* sd-daemon(3): SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG */
    static const char *const want[] = {"<3>", "<4>", "<6>", "<7>"};
    for (int level = LOG_LEVEL_ERR; level <= LOG_LEVEL_DEBUG; level++) {
        cr_expect_eq(log_prefix(LOG_TO_JOURNAL, (log_level_t)level, &t, buf, sizeof(buf)), 3);
        cr_expect_str_eq(buf, want[level]);
    }
    cr_expect_eq(log_prefix(LOG_TO_PLAIN, LOG_LEVEL_ERR, &t, buf, sizeof(buf)), 0);
    cr_expect_str_eq(buf, "");
    cr_expect_eq(log_prefix(LOG_TO_SYSLOG, LOG_LEVEL_ERR, &t, buf, sizeof(buf)), 0);
    cr_expect_str_eq(buf, "");
}
