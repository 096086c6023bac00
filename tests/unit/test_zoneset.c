/*
 * Unit tests for zoneset's reports (gslbd/engine/zoneset.h): what a load or
 * reload says it did with each file, since gslbd's log and `gslbctl reload`
 * print exactly that. A good reload, a broken edit (the previous version
 * keeps serving, with its old serial), a broken new file (not served), a
 * removed file, a set refused as a whole (two files, one zone), and a
 * reload of unchanged files. Serials are written in the files, so the
 * lines are compared exactly.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gslbd/engine/zoneset.h"

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/gslb-test-zoneset-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(zoneset, .init = make_dir, .fini = remove_dir);

/* Write DIR/name: a zone `zone` with SOA serial `serial`, plus `extra`. */
static void write_zone(const char *name, const char *zone, unsigned serial, const char *extra)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "zone: %s\n"
            "soa: {mname: ns1.example.net, rname: hostmaster.example.net, serial: %u}\n"
            "ns: [ns1.example.net]\n"
            "records:\n"
            "  www: {A: 192.0.2.1}\n"
            "%s",
            zone, serial, extra);
    fclose(f);
}

static void remove_file(const char *name)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    cr_assert_eq(unlink(path), 0);
}

/* Load (force: every file read again) and return the report; the snapshot
 * is freed at once, the tests look at the report only. */
static int load(zoneset_t *zs, bool strict, zoneset_report_t *rep)
{
    snapshot_t *snap = NULL;
    diag_t errs = {0};
    int r = zoneset_load_report(zs, NULL, true, strict, &snap, &errs, rep);

    snapshot_free(snap);
    diag_clear(&errs);
    return r;
}

/* The describe line of the report's file whose name ends in `name`. */
static const char *line_of(const zoneset_report_t *rep, const char *name, char *buf, size_t size)
{
    size_t nlen = strlen(name);

    for (size_t k = 0; k < rep->n_files; k++) {
        const char *f = rep->files[k].file;
        size_t flen = strlen(f);
        if (flen >= nlen && strcmp(f + flen - nlen, name) == 0) {
            zoneset_file_describe(&rep->files[k], buf, size);
            /* The path differs per run: show it as the name alone. */
            char *at = strstr(buf, dir);
            if (at != NULL) {
                size_t dl = strlen(dir) + 1;
                memmove(at, at + dl, strlen(at + dl) + 1);
            }
            return buf;
        }
    }
    return "(no such file in the report)";
}

Test(zoneset, good_reload_says_new_serial_and_was)
{
    zoneset_t *zs = zoneset_new(dir, NULL);
    zoneset_report_t rep;
    char buf[512];

    write_zone("a.yaml", "a.test", 10, "");
    cr_assert_eq(load(zs, true, &rep), 0);
    cr_expect_str_eq(line_of(&rep, "a.yaml", buf, sizeof(buf)), "a.test: loaded serial 10 (new)");
    cr_expect(zoneset_report_ok(&rep));
    zoneset_report_clear(&rep);

    write_zone("a.yaml", "a.test", 11, "");
    cr_assert_eq(load(zs, false, &rep), 0);
    cr_expect_str_eq(line_of(&rep, "a.yaml", buf, sizeof(buf)),
                     "a.test: loaded serial 11 (was 10)");
    cr_expect_eq(rep.files[0].outcome, ZONESET_LOADED);
    cr_expect_eq(rep.files[0].n_errors, 0);
    cr_expect(zoneset_report_ok(&rep));
    cr_expect(zoneset_report_verdict(&rep, buf, sizeof(buf)));
    cr_expect_str_eq(buf, "reloaded: 1 zone file loaded, 0 unchanged, 0 removed",
                     "\"reloaded:\" only when every file loaded");
    zoneset_report_clear(&rep);
    zoneset_free(zs);
}

Test(zoneset, broken_edit_keeps_the_old_serial_and_says_so)
{
    zoneset_t *zs = zoneset_new(dir, NULL);
    zoneset_report_t rep;
    char buf[512];

    write_zone("a.yaml", "a.test", 10, "");
    write_zone("b.yaml", "b.test", 20, "");
    cr_assert_eq(load(zs, true, &rep), 0);
    zoneset_report_clear(&rep);

    write_zone("a.yaml", "a.test", 11, "bogus: 1\n");
    write_zone("b.yaml", "b.test", 21, "");
    cr_assert_eq(load(zs, false, &rep), 0); /* b's new version is served */
    cr_expect_str_eq(line_of(&rep, "a.yaml", buf, sizeof(buf)),
                     "a.test: NOT reloaded (1 error): serial 10 keeps serving");
    cr_expect_str_eq(line_of(&rep, "b.yaml", buf, sizeof(buf)),
                     "b.test: loaded serial 21 (was 20)");
    cr_expect(!zoneset_report_ok(&rep));
    cr_expect(!zoneset_report_verdict(&rep, buf, sizeof(buf)));
    cr_expect_str_eq(buf, "reload incomplete: 1 zone file NOT loaded (the previous version of "
                          "each keeps serving, if it had one), 1 loaded, 0 unchanged, 0 removed");
    cr_assert_eq(rep.files[0].n_errors, 1);
    cr_expect(strstr(rep.files[0].errors[0], "a.yaml:6:1: error: unknown key 'bogus'") != NULL,
              "%s", rep.files[0].errors[0]);
    cr_expect_eq(rep.files[1].n_errors, 0, "b's report holds none of a's errors");
    zoneset_report_clear(&rep);
    zoneset_free(zs);
}

Test(zoneset, new_broken_file_is_not_served_and_removed_file_is_said)
{
    zoneset_t *zs = zoneset_new(dir, NULL);
    zoneset_report_t rep;
    char buf[512];

    write_zone("a.yaml", "a.test", 10, "");
    write_zone("b.yaml", "b.test", 20, "");
    cr_assert_eq(load(zs, true, &rep), 0);
    zoneset_report_clear(&rep);

    remove_file("b.yaml");
    write_zone("c.yaml", "c.test", 30, "nonsense: [\n");
    cr_assert_eq(load(zs, false, &rep), 0);
    cr_expect_str_eq(line_of(&rep, "c.yaml", buf, sizeof(buf)),
                     "c.yaml: NOT loaded (1 error): not served");
    cr_expect_str_eq(line_of(&rep, "b.yaml", buf, sizeof(buf)),
                     "b.test: removed (b.yaml is gone): no longer served");
    cr_expect_str_eq(line_of(&rep, "a.yaml", buf, sizeof(buf)),
                     "a.test: loaded serial 10 (was 10)");
    cr_expect(!zoneset_report_ok(&rep));
    zoneset_report_clear(&rep);
    zoneset_free(zs);
}

Test(zoneset, refused_set_keeps_every_zone_as_it_was)
{
    zoneset_t *zs = zoneset_new(dir, NULL);
    zoneset_report_t rep;
    char buf[512];

    write_zone("a.yaml", "a.test", 10, "");
    cr_assert_eq(load(zs, true, &rep), 0);
    zoneset_report_clear(&rep);

    /* Each file loads on its own; two files serving one zone is a set error. */
    write_zone("a.yaml", "a.test", 11, "");
    write_zone("b.yaml", "a.test", 12, "");
    cr_assert_neq(load(zs, false, &rep), 0);
    cr_expect(rep.set_failed);
    cr_expect_geq(rep.n_errors, 1);
    cr_expect_str_eq(line_of(&rep, "a.yaml", buf, sizeof(buf)),
                     "a.test: NOT reloaded (the zone set was refused): serial 10 keeps serving");
    cr_expect_str_eq(line_of(&rep, "b.yaml", buf, sizeof(buf)),
                     "a.test: NOT loaded (the zone set was refused): not served");
    cr_expect(!zoneset_report_ok(&rep));
    cr_expect(!zoneset_report_verdict(&rep, buf, sizeof(buf)));
    cr_expect_str_eq(buf, "reload failed: nothing changed, every zone keeps serving its "
                          "previous version");
    zoneset_report_clear(&rep);
    zoneset_free(zs);
}

Test(zoneset, unchanged_files_are_not_read_again)
{
    zoneset_t *zs = zoneset_new(dir, NULL);
    zoneset_report_t rep;
    snapshot_t *snap = NULL;
    diag_t errs = {0};
    char buf[512];

    write_zone("a.yaml", "a.test", 10, "");
    cr_assert_eq(load(zs, true, &rep), 0);
    zoneset_report_clear(&rep);
    cr_assert_eq(zoneset_load_report(zs, NULL, false, false, &snap, &errs, &rep), 0);
    cr_expect_str_eq(line_of(&rep, "a.yaml", buf, sizeof(buf)), "a.test: unchanged, serial 10");
    cr_expect(zoneset_report_ok(&rep));
    zoneset_report_clear(&rep);
    snapshot_free(snap);
    diag_clear(&errs);
    zoneset_free(zs);
}
