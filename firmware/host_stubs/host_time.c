/* time() for the host builds of the sketches: the simulated SNTP clock.
   The executable's definition takes precedence over the C library's. */
#include <time.h>

long long host_sim_epoch(void);

time_t time(time_t* out) {
  time_t t = (time_t)host_sim_epoch();
  if (out) *out = t;
  return t;
}
