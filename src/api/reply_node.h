/* reply_node.h — the X-Vactor-Node header: every response produced by an
 * actor's turn names the node whose activation ran it (vactor_route.h's
 * va_reply_node). Call it inside the reply callback that fills the
 * response; outside a reply, and on a node without a name, it adds
 * nothing. */
#ifndef VA_API_REPLY_NODE_H
#define VA_API_REPLY_NODE_H

#include "../http/server.h"
#include <vactor_route.h>

static inline void va__api_reply_node(va_http_response *res) {
  const char *node = va_reply_node();
  if (node)
    (void)va_http_header(res, "X-Vactor-Node", node); /* a name is a token */
}

#endif
