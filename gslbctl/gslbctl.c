/*
 * gslbctl: the operator's command for a running gslbd, over its control
 * socket (common/ctl.h): show the status (zones, regions, members, traffic
 * shares), explain an answer as gslbd gives it now, reload the zone files
 * and say what each did, and drain, force down, force up or release a
 * region or a pool member. Overrides are kept by gslbd across restarts. A
 * plain blocking client: one request, one reply; it prints what gslbd
 * says and nothing it has not said. Exit status 0 (OK), 1 (gslbd said ERR,
 * or is unreachable), 2 (usage).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/ctl.h"
#include "common/ctlauth.h"
#include "common/errcode.h"
#include "common/log.h"
#include "common/version.h"

/* keygen VANTAGE: a key line on stdout; needs no gslbd. */
static int keygen(int argc, char **argv)
{
    char line[256];
    int r;

    if (argc != 2) {
        log_err("usage: gslbctl keygen VANTAGE");
        return 2;
    }
    if ((r = ctlauth_keygen(argv[1], line, sizeof(line))) < 0) {
        log_err("keygen %s: %s", argv[1],
                r == -EINVAL ? "a vantage name is letters, digits, '-', '_' and '.', at most 63"
                             : gslb_strerror(r));
        return r == -EINVAL ? 2 : 1;
    }
    fputs(line, stdout);
    return fflush(stdout) == 0 ? 0 : 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: gslbctl [--control PATH] [--zone ZONE] COMMAND [ARGS]\n"
            "\n"
            "Commands:\n"
            "  status [--json]          per zone its serial and last reload; per region its\n"
            "                           state (up, unknown, DOWN, DRAINED, forced up, FORCED\n"
            "                           DOWN) and why, its weight, its members' last reports\n"
            "                           and their age; per service each region's share of the\n"
            "                           answers of the last minute. --json: the same as one\n"
            "                           JSON document (status_version 1)\n"
            "  explain ADDRESS[/PREFIX] NAME [TYPE]\n"
            "                           what gslbd answers a client there now, and why, with\n"
            "                           live health, overrides and weights\n"
            "  reload                   reload every zone file now and wait for it: prints each\n"
            "                           error (file:line:column) and the serial each zone\n"
            "                           serves; exits 1 if any file did not load (its previous\n"
            "                           version keeps serving)\n"
            "  drain REGION [ADDRESS]   take no new traffic (as weight 0), keep health checks\n"
            "  down REGION [ADDRESS]    force down, whatever the health checks say\n"
            "  up REGION [ADDRESS]      force up, whatever the health checks say\n"
            "  auto REGION [ADDRESS]    remove the override: health checks decide again\n"
            "  keygen VANTAGE           print a new key line for VANTAGE, for gslbd's\n"
            "                           --control-keys and that healthd's --key (no socket)\n"
            "\n"
            "  -C, --control PATH  gslbd's control socket (default $GSLB_CONTROL)\n"
            "  -z, --zone ZONE     drain, down, up, auto: only in this zone (default: the\n"
            "                      region in every zone that has it)\n"
            "  -j, --json          status as JSON\n"
            "  -V, --version       print the version and exit\n"
            "  -h, --help          print this help\n"
            "\n"
            "Overrides are kept by gslbd across restarts, in its --overrides file; one that\n"
            "cannot be saved there is in force but an error (exit 1). reload, drain, down, up\n"
            "and auto need root, gslbd's user or its --control-group; status and explain\n"
            "anyone who may open the socket. Exit status: 0 done, 1 gslbd refused or failed\n"
            "(its reason printed) or cannot be reached, 2 bad command line.\n");
}

static int connect_to(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        log_err("%s: path too long for a socket", path);
        return -ENAMETOOLONG;
    }
    strcpy(sun.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int e = -errno;
        log_err("cannot connect to gslbd at %s: %s", path, gslb_strerror(e));
        if (fd >= 0) {
            close(fd);
        }
        return e;
    }
    return fd;
}

/* What an ERR from gslbd means when gslbd is older than this gslbctl: the
 * request is one it does not know yet (common/ctl.h). */
static void explain_refusal(const ctl_msg_t *req, const char *text)
{
    bool old = strncmp(text, "unknown command", 15) == 0 || strncmp(text, "usage: STATUS", 13) == 0;

    if (old && (req->verb == CTL_RELOAD || req->verb == CTL_EXPLAIN || req->verb == CTL_STATUS)) {
        log_err("gslbd is older than this gslbctl (%s) and cannot do this; upgrade it%s",
                gslb_version(), req->verb == CTL_RELOAD ? ", or reload it with SIGHUP" : "");
    }
}

/* Send one request and print the reply's data lines (when print_data);
 * returns the final line's verdict: 0 OK (its text copied to `ok_text`),
 * 1 ERR (printed to stderr) or a broken connection. */
static int request(FILE *io, const ctl_msg_t *req, bool print_data, char *ok_text, size_t size)
{
    char line[CTL_LINE_MAX + 2], copy[CTL_LINE_MAX + 2];
    ctl_msg_t m;

    if (ctl_format(req, line, sizeof(line)) < 0) {
        log_err("the request cannot be sent: a name holds a space or a control character");
        return 2;
    }
    fputs(line, io);
    fflush(io);
    while (fgets(line, sizeof(line), io) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        memcpy(copy, line, sizeof(copy));
        /* Anything but OK and ERR is a data line. */
        bool final = ctl_parse(copy, &m, NULL) == 0 && (m.verb == CTL_OK || m.verb == CTL_ERR);
        if (final && m.verb == CTL_OK) {
            snprintf(ok_text, size, "%s", m.text);
            return 0;
        }
        if (final) {
            fflush(stdout); /* what gslbd said before the error comes first */
            log_err("gslbd says: %s", m.text);
            explain_refusal(req, m.text);
            return 1;
        }
        if (print_data) {
            puts(line);
        }
    }
    fflush(stdout);
    log_err("gslbd closed the connection without an answer");
    return 1;
}

/* Connect, say HELLO and send `req`, printing its reply's data lines; the
 * final OK's text goes to ok_text. Returns the exit status: 0 OK, 1
 * refused or unreachable, 2 unsendable. */
static int session(const char *path, const ctl_msg_t *req, char *ok_text, size_t size)
{
    int fd = connect_to(path);
    FILE *io;

    if (fd < 0) {
        return 1;
    }
    if ((io = fdopen(fd, "r+")) == NULL) {
        close(fd);
        return 1;
    }
    int rc = request(io, &(ctl_msg_t){.verb = CTL_HELLO, .peer = "gslbctl", .version = CTL_VERSION},
                     false, ok_text, size);
    if (rc == 0) {
        rc = request(io, req, true, ok_text, size);
    }
    fclose(io);
    return rc;
}

/* The request a command line asks for. Returns 0, or -EINVAL (usage). */
static int command(int argc, char **argv, const char *zone, bool json, ctl_msg_t *req)
{
    health_override_t ov;

    if (json && strcmp(argv[0], "status") != 0) {
        return -EINVAL; /* --json is status's */
    }
    if (strcmp(argv[0], "status") == 0 && argc == 1) {
        *req = (ctl_msg_t){.verb = CTL_STATUS, .json = json};
        return 0;
    }
    if (strcmp(argv[0], "reload") == 0 && argc == 1) {
        *req = (ctl_msg_t){.verb = CTL_RELOAD};
        return 0;
    }
    if (strcmp(argv[0], "explain") == 0 && (argc == 3 || argc == 4)) {
        *req = (ctl_msg_t){.verb = CTL_EXPLAIN,
                           .client = argv[1],
                           .qname = argv[2],
                           .qtype = argc == 4 ? argv[3] : NULL};
        return 0;
    }
    if (health_override_parse(argv[0], &ov) == 0 && (argc == 2 || argc == 3)) {
        *req = (ctl_msg_t){.verb = CTL_SET,
                           .override = ov,
                           .zone = zone,
                           .region = argv[1],
                           .member = argc == 3 ? argv[2] : NULL};
        return 0;
    }
    return -EINVAL;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"control", required_argument, NULL, 'C'}, {"zone", required_argument, NULL, 'z'},
        {"json", no_argument, NULL, 'j'},          {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *path = getenv("GSLB_CONTROL"), *zone = "*";
    static char zone_buf[256];
    char ok_text[CTL_LINE_MAX + 1] = "";
    bool json = false;
    ctl_msg_t req;
    int c;

    log_init("gslbctl", LOG_LEVEL_INFO);
    while ((c = getopt_long(argc, argv, "C:z:jVh", longs, NULL)) != -1) {
        switch (c) {
        case 'C':
            path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'z': /* "gslb.example.com." as zone files may write it: without the dot */
            snprintf(zone_buf, sizeof(zone_buf), "%s", optarg);
            if (strlen(zone_buf) > 1 && zone_buf[strlen(zone_buf) - 1] == '.') {
                zone_buf[strlen(zone_buf) - 1] = '\0';
            }
            zone = zone_buf;
            break;
        case 'V':
            printf("gslbctl %s (control protocol %d)\n", gslb_version(), CTL_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    argc -= optind;
    argv += optind;
    if (argc >= 1 && strcmp(argv[0], "keygen") == 0) {
        return keygen(argc, argv);
    }
    if (path != NULL && path[0] == '\0') {
        path = NULL; /* GSLB_CONTROL= (empty) is no socket, not the socket "" */
    }
    if (path == NULL || argc < 1) {
        log_err("%s", path == NULL ? "--control PATH is required (or set "
                                     "GSLB_CONTROL)"
                                   : "a command is required");
        usage(stderr);
        return 2;
    }
    if (command(argc, argv, zone, json, &req) < 0) {
        log_err("unknown command or wrong arguments: %s", argv[0]);
        usage(stderr);
        return 2;
    }
    if (strcmp(zone, "*") != 0 && req.verb != CTL_SET) {
        log_err("--zone applies to drain, down, up and auto, not to %s (which covers every "
                "zone)",
                argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* gslbd going away is reported, not a silent death */
    int rc = session(path, &req, ok_text, sizeof(ok_text));
    if (rc == 0 && req.verb == CTL_SET) {
        printf("%s %s%s%s: done in %s zone%s (kept across gslbd restarts)\n", argv[0], argv[1],
               argc == 3 ? " " : "", argc == 3 ? argv[2] : "", ok_text,
               strcmp(ok_text, "1") == 0 ? "" : "s");
    } else if (rc == 0 && req.verb == CTL_RELOAD) {
        printf("%s\n", ok_text);
    }
    return rc;
}
