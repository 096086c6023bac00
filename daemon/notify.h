/*
 * notify: tell the service manager how the daemon is doing, through
 * systemd's sd_notify() protocol (a datagram to $NOTIFY_SOCKET), so a unit
 * of Type=notify is "active" when the daemon really serves, not when its
 * process has merely started, and "reloading" while a reload runs.
 *
 * Outside systemd (no $NOTIFY_SOCKET: a shell, a test, another supervisor)
 * every call does nothing. A failure to notify is not the daemon's problem:
 * it is logged at debug level and otherwise ignored. Call from the main loop
 * thread; the messages carry the process's id, which systemd checks against
 * the unit's main process (NotifyAccess=main).
 *
 * It does not do the watchdog (WATCHDOG=1) or socket activation.
 */
#ifndef GSLB_NOTIFY_H
#define GSLB_NOTIFY_H

#include "common/log.h"

/* READY=1, with a STATUS= line for `systemctl status` made from fmt: the
 * daemon serves (first start) or a reload is over, failed or not. */
void notify_ready(const char *fmt, ...) ATTR_PRINTF(1, 2);

/* RELOADING=1, with the monotonic time systemd 253 and later ask for: a
 * reload has begun; notify_ready() ends it. */
void notify_reloading(void);

/* STOPPING=1: the daemon is shutting down. */
void notify_stopping(void);

#endif
