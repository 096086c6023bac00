/*
 * gslbctl: the operator's command for a running gslbd, over its control
 * socket (common/ctl.h): show health and traffic status, and drain,
 * force down, force up or release a region or a pool member. Overrides are
 * kept by gslbd across restarts. A plain blocking client: one request, one
 * reply, exit status 0 (OK), 1 (gslbd said ERR or is unreachable), 2 (usage).
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
#include "common/errcode.h"
#include "common/log.h"
#include "common/version.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: gslbctl [--control PATH] [--zone ZONE] COMMAND [ARGS]\n"
            "\n"
            "Commands:\n"
            "  status                   regions and members: health, weight, overrides\n"
            "  drain REGION [ADDRESS]   take no new traffic (as weight 0), keep health checks\n"
            "  down REGION [ADDRESS]    force down, whatever the health checks say\n"
            "  up REGION [ADDRESS]      force up, whatever the health checks say\n"
            "  auto REGION [ADDRESS]    remove the override: health checks decide again\n"
            "\n"
            "  -C, --control PATH  gslbd's control socket (default $GSLB_CONTROL)\n"
            "  -z, --zone ZONE     only this zone (default: the region in every zone)\n"
            "  -V, --version       print the version and exit\n"
            "  -h, --help          print this help\n"
            "\n"
            "Overrides are kept by gslbd across restarts, in its --overrides file.\n");
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

/* Send one request and print the reply's data lines; returns the final
 * line's verdict: 0 OK, 1 ERR (printed to stderr) or a broken connection. */
static int request(FILE *io, const ctl_msg_t *req, bool print_data)
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
            return 0;
        }
        if (final) {
            log_err("gslbd says: %s", m.text);
            return 1;
        }
        if (print_data) {
            puts(line);
        }
    }
    log_err("gslbd closed the connection without an answer");
    return 1;
}

/* Connect, say HELLO and send `req`, printing its reply's data lines.
 * Returns the exit status: 0 OK, 1 refused or unreachable, 2 unsendable. */
static int session(const char *path, const ctl_msg_t *req)
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
                     false);
    if (rc == 0) {
        rc = request(io, req, true);
    }
    fclose(io);
    return rc;
}

/* The request a command line asks for. Returns 0, or -EINVAL (usage). */
static int command(int argc, char **argv, const char *zone, ctl_msg_t *req)
{
    health_override_t ov;

    if (strcmp(argv[0], "status") == 0 && argc == 1) {
        *req = (ctl_msg_t){.verb = CTL_STATUS};
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
    static const struct option longs[] = {{"control", required_argument, NULL, 'C'},
                                          {"zone", required_argument, NULL, 'z'},
                                          {"version", no_argument, NULL, 'V'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    const char *path = getenv("GSLB_CONTROL"), *zone = "*";
    ctl_msg_t req;
    int c;

    log_init("gslbctl", LOG_LEVEL_INFO);
    while ((c = getopt_long(argc, argv, "C:z:Vh", longs, NULL)) != -1) {
        switch (c) {
        case 'C':
            path = optarg;
            break;
        case 'z':
            zone = optarg;
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
    if (path == NULL || argc < 1) {
        log_err("%s", path == NULL ? "--control PATH is required (or set "
                                     "GSLB_CONTROL)"
                                   : "a command is required");
        usage(stderr);
        return 2;
    }
    if (command(argc, argv, zone, &req) < 0) {
        log_err("unknown command or wrong arguments: %s", argv[0]);
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* gslbd going away is reported, not a silent death */
    int rc = session(path, &req);
    if (rc == 0 && req.verb == CTL_SET) {
        printf("%s %s%s%s: %s\n", argv[0], argv[1], argc == 3 ? " " : "", argc == 3 ? argv[2] : "",
               "done (kept across gslbd restarts)");
    }
    return rc;
}
