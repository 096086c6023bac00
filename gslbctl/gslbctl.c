/*
 * gslbctl: the operator's command for a running gslbd, over its control
 * socket (common/control.h): show health and traffic status, and drain,
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

#include "common/control.h"
#include "common/errcode.h"

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
            "  -h, --help          print this help\n"
            "\n"
            "Overrides are kept by gslbd across restarts, in its --overrides file.\n");
}

static int connect_to(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "gslbctl: %s: path too long for a socket\n", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        fprintf(stderr, "gslbctl: cannot connect to gslbd at %s: %s\n", path,
                gslb_strerror(-errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

/* Send one request and print the reply's data lines; returns the final
 * line's verdict: 0 OK, 1 ERR (printed to stderr) or a broken connection. */
static int request(FILE *io, const char *line, bool print_data)
{
    char buf[CONTROL_LINE_MAX + 2];

    fprintf(io, "%s\n", line);
    fflush(io);
    while (fgets(buf, sizeof(buf), io) != NULL) {
        if (strncmp(buf, "OK", 2) == 0) {
            return 0;
        }
        if (strncmp(buf, "ERR", 3) == 0) {
            fprintf(stderr, "gslbctl: gslbd says: %s", buf + 4);
            return 1;
        }
        if (print_data) {
            fputs(buf, stdout);
        }
    }
    fprintf(stderr, "gslbctl: gslbd closed the connection without an answer\n");
    return 1;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {{"control", required_argument, NULL, 'C'},
                                          {"zone", required_argument, NULL, 'z'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    const char *path = getenv("GSLB_CONTROL"), *zone = "*";
    char line[CONTROL_LINE_MAX];
    int c;

    while ((c = getopt_long(argc, argv, "C:z:h", longs, NULL)) != -1) {
        switch (c) {
        case 'C':
            path = optarg;
            break;
        case 'z':
            zone = optarg;
            break;
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
        fprintf(stderr, "gslbctl: %s\n",
                path == NULL ? "--control PATH is required (or set "
                               "GSLB_CONTROL)"
                             : "a command is required");
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[0], "status") == 0 && argc == 1) {
        snprintf(line, sizeof(line), "STATUS");
    } else if ((strcmp(argv[0], "drain") == 0 || strcmp(argv[0], "down") == 0 ||
                strcmp(argv[0], "up") == 0 || strcmp(argv[0], "auto") == 0) &&
               (argc == 2 || argc == 3)) {
        snprintf(line, sizeof(line), "SET %s %s %s%s%s", argv[0], zone, argv[1],
                 argc == 3 ? " " : "", argc == 3 ? argv[2] : "");
    } else {
        fprintf(stderr, "gslbctl: unknown command or wrong arguments: %s\n", argv[0]);
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* gslbd going away is reported, not a silent death */
    int fd = connect_to(path);
    if (fd < 0) {
        return 1;
    }
    FILE *io = fdopen(fd, "r+");
    if (io == NULL) {
        close(fd);
        return 1;
    }
    int rc = request(io, "HELLO gslbctl 1", false);
    if (rc == 0) {
        rc = request(io, line, true);
    }
    if (rc == 0 && strncmp(line, "SET", 3) == 0) {
        printf("%s %s%s%s: %s\n", argv[0], argv[1], argc == 3 ? " " : "", argc == 3 ? argv[2] : "",
               "done (kept across gslbd restarts)");
    }
    fclose(io);
    return rc;
}
