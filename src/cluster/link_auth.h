/*
 * link_auth.h — how two nodes of one cluster prove to each other, when a
 * link connection opens (frame.h), that each holds the cluster's key: a
 * 32-byte secret every node reads from the cluster's database (a node
 * that can read it is trusted with the whole cluster anyway). Without it a
 * process that reaches a node's link port could send it calls that no
 * API token guards. Internal to src/cluster.
 *
 * The exchange, on a connection from C (connecting) to A (accepting):
 *
 *   C -> A  HELLO  C's name, A's name, nonce_c
 *   A -> C  HELLO  A's name, C's name, nonce_a
 *   A -> C  AUTH   proof(key, ACCEPTOR, nonce_c, nonce_a, C, A)
 *   C -> A  AUTH   proof(key, CONNECTOR, nonce_c, nonce_a, C, A)
 *
 * Each side checks the other's proof before it takes a call or a reply
 * from it. A proof is HMAC-SHA-256 over a label, the role, both nonces and
 * both names, so a proof seen on one connection is worth nothing on
 * another (fresh nonces) nor in the other direction (the role). The link
 * is authenticated, not encrypted: what it carries can be read on the
 * wire (operations.md).
 */
#ifndef VA_CLUSTER_LINK_AUTH_H
#define VA_CLUSTER_LINK_AUTH_H

#include "frame.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { VA__LINK_KEY_LEN = 32 };

typedef enum va__link_role {
  VA__LINK_CONNECTOR = 'C',
  VA__LINK_ACCEPTOR = 'A',
} va__link_role;

/* The names and nonces of one connection, as both sides see them. */
typedef struct va__link_hello_pair {
  const char *connector, *acceptor; /* node names */
  size_t connector_len, acceptor_len;
  const uint8_t *nonce_c, *nonce_a; /* VA__FRAME_NONCE_LEN bytes each */
} va__link_hello_pair;

/* Fills buf with len random bytes from the kernel: 0, or VA_ESYS. */
int va__link_random(void *buf, size_t len);

/* The proof that role holds key, for the connection described by h. */
void va__link_proof(const uint8_t key[VA__LINK_KEY_LEN], va__link_role role,
                    const va__link_hello_pair *h,
                    uint8_t out[VA__FRAME_PROOF_LEN]);

/* Whether got is role's proof for h under key (compared in constant
 * time). */
bool va__link_proof_ok(const uint8_t key[VA__LINK_KEY_LEN], va__link_role role,
                       const va__link_hello_pair *h,
                       const uint8_t got[VA__FRAME_PROOF_LEN]);

#endif
