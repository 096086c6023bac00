/*
 * health: names of states and overrides; the rules are inline in health.h.
 */
#include "common/health.h"

#include <errno.h>
#include <string.h>

static const char *const health_state_names[] = {"unknown", "up", "down"};
static const char *const health_override_names[] = {"auto", "drain", "down", "up"};

#define HEALTH_N(a) (sizeof(a) / sizeof((a)[0]))

const char *health_state_name(health_state_t state)
{
    return (unsigned)state < HEALTH_N(health_state_names) ? health_state_names[state] : "?";
}

int health_state_parse(const char *name, health_state_t *out)
{
    for (unsigned i = 0; i < HEALTH_N(health_state_names); i++) {
        if (strcmp(name, health_state_names[i]) == 0) {
            *out = (health_state_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *health_override_name(health_override_t ov)
{
    return (unsigned)ov < HEALTH_N(health_override_names) ? health_override_names[ov] : "?";
}

int health_override_parse(const char *name, health_override_t *out)
{
    for (unsigned i = 0; i < HEALTH_N(health_override_names); i++) {
        if (strcmp(name, health_override_names[i]) == 0) {
            *out = (health_override_t)i;
            return 0;
        }
    }
    return -EINVAL;
}
