/*
 * COMPAT(kamailio): Kamailio's xmpp module (src/modules/xmpp/xstream.c, _xode_put_expatattribs)
 * walks expat's attribute list with `while (*(atts[i]) != '\0')`, but expat ends that list with a
 * NULL pointer (expat.h, XML_StartElementHandler), so the module dereferences NULL on the first
 * element it parses, whatever the server sends (kamailio issue #4154). Preloaded into Kamailio,
 * this library hands the module's start-element handler a copy of the list that ends with an
 * empty name before the NULL, which stops that loop; nothing else about the module changes.
 *
 * Build and use it as docs/gateways.md says; test/lab/kamailio.test.ts runs Kamailio with it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <expat.h>
#include <stdlib.h>

/* The module registers one handler for every parser it creates. */
static XML_StartElementHandler module_start_handler;

static void start_with_sentinel(void *user_data, const XML_Char *name, const XML_Char **atts) {
  static const XML_Char empty_name[] = "";
  size_t count = 0;
  while (atts[count] != NULL) count++;
  const XML_Char **copy = malloc((count + 2) * sizeof *copy);
  if (copy == NULL) abort();
  for (size_t i = 0; i < count; i++) copy[i] = atts[i];
  copy[count] = empty_name;
  copy[count + 1] = NULL;
  module_start_handler(user_data, name, copy);
  free(copy);
}

/*
 * Kamailio loads its modules, and with them expat, outside the global symbol scope, so expat's own
 * function is found through a handle on the library rather than RTLD_NEXT.
 */
void XML_SetElementHandler(XML_Parser parser, XML_StartElementHandler start, XML_EndElementHandler end) {
  void *expat = dlopen("libexpat.so.1", RTLD_LAZY);
  if (expat == NULL) abort();
  void (*expat_set_element_handler)(XML_Parser, XML_StartElementHandler, XML_EndElementHandler) =
      (void (*)(XML_Parser, XML_StartElementHandler, XML_EndElementHandler))dlsym(expat, "XML_SetElementHandler");
  if (expat_set_element_handler == NULL) abort();
  module_start_handler = start;
  expat_set_element_handler(parser, start == NULL ? NULL : start_with_sentinel, end);
}
