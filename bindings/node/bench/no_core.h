/* Forced into a second build of src/addon.c (build/himetrica-nocore.node, never packaged) for
 * the breakdown in bench/node_track.js: hm_track does nothing there, so timing that addon's
 * track measures the N-API crossing alone. */
#define _POSIX_C_SOURCE 200809L /* as addon.c: its system headers come after this file's */
#include "himetrica.h"

static inline hm_status no_core_track(hm_client *client, const char *event_name, const char *user_id,
                                      const char *email, const char *visitor_id, const char *properties_json,
                                      const char *timestamp, const char *session) {
  (void)client; (void)event_name; (void)user_id; (void)email; (void)visitor_id; (void)properties_json;
  (void)timestamp; (void)session;
  return HM_OK;
}
#define hm_track no_core_track
