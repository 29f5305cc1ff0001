#include "ctl_names.h"

#include <ctype.h>
#include <string.h>

/* The \w of .NET regexes, restricted to ASCII: letters, digits, '_'. */
static bool
is_word(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static bool
all_of(const char *s, size_t min, size_t max, const char *extra)
{
    size_t n = strlen(s);

    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_word(s[i]) && strchr(extra, s[i]) == NULL)
            return false;
    }
    return true;
}

bool
ctl_name_is_resource_group(const char *s)
{
    size_t n = strlen(s);

    return all_of(s, 1, 90, "-._()") && s[n - 1] != '.';
}

bool
ctl_name_is_workspace(const char *s)
{
    return all_of(s, 3, 64, "-");
}

bool
ctl_name_is_deployment(const char *s)
{
    return all_of(s, 1, 64, "-._()");
}

bool
ctl_name_is_resource(const char *s)
{
    return all_of(s, 1, 80, "-._") && is_word(s[0]);
}

bool
ctl_name_is_guid(const char *s)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    const char *p = s;

    for (size_t g = 0; g < 5; g++) {
        for (int i = 0; i < groups[g]; i++, p++) {
            if (!isxdigit((unsigned char)*p))
                return false;
        }
        if (g < 4 && *p++ != '-')
            return false;
    }
    return *p == '\0';
}
