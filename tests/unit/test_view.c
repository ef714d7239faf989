/* test_view.c — placement over a view (src/cluster/view.h): rendezvous
 * hashing spreads actors over the eligible members, moves only the actors
 * of a member that leaves (and only to a member that joins, those it now
 * wins), skips members that are leaving or dead, and puts an app's types
 * only on the members whose app hosts them; reachability votes put out
 * the member the others cannot reach, and only it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "cluster/view.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IDS = 30000 };

static int nop(va_turn *t, const void *arg, size_t len) {
  (void)t, (void)arg, (void)len;
  return 0;
}

static va_runtime *rt;
static int T_TASK, T_APP;

static int setup(void **state) {
  (void)state;
  assert_int_equal(va_runtime_new(NULL, &rt), 0);
  va_method m[] = {{"m", nop}};
  T_TASK = va_register_type(
      rt, &(va_type_def){.name = "TaskActor", .methods = m, .n_methods = 1});
  T_APP = va_register_type(
      rt, &(va_type_def){.name = "Cart", .methods = m, .n_methods = 1});
  return 0;
}

static int teardown(void **state) {
  (void)state;
  va_runtime_free(rt);
  return 0;
}

/* A view of the members named (status alive, 2 s of lease left), types ""
 * each. */
static va__view *view_of(const char *const *ids, size_t n) {
  va__view *v = calloc(1, sizeof(*v));
  assert_non_null(v);
  v->n = n;
  v->self = -1;
  for (size_t i = 0; i < n; i++) {
    snprintf(v->members[i].id, sizeof(v->members[i].id), "%s", ids[i]);
    v->members[i].number = (int)i + 1;
    v->members[i].types = strdup("");
    v->members[i].unreachable = strdup("");
    v->members[i].incarnation = 1;
    v->members[i].lease_left_ms = 2000;
  }
  return v;
}

static void finish(va__view *v) {
  assert_int_equal(va__view_finish(v, rt), 0);
}

/* The member id that runs TaskActor "u<i>" in v, or NULL. */
static const char *owner(const va__view *v, int type, int i) {
  char id[32];
  int n = snprintf(id, sizeof(id), "u%d", i);
  int m = va__view_place(v, type, va_type_name(rt, type), id, (size_t)n);
  return m < 0 ? NULL : v->members[m].id;
}

static void spreads_evenly(void **state) {
  (void)state;
  const char *ids[] = {"n1", "n2", "n3"};
  va__view *v = view_of(ids, 3);
  finish(v);
  int count[3] = {0};
  for (int i = 0; i < IDS; i++) {
    const char *o = owner(v, T_TASK, i);
    assert_non_null(o);
    count[o[1] - '1']++;
  }
  for (int m = 0; m < 3; m++) /* a third each, give or take 5 % */
    assert_true(count[m] > IDS * 28 / 100 && count[m] < IDS * 38 / 100);
  va__view_free(v);
}

static void a_leaving_member_moves_only_its_actors(void **state) {
  (void)state;
  const char *three[] = {"n1", "n2", "n3"}, *four[] = {"n1", "n2", "n3", "n4"};
  va__view *before = view_of(three, 3), *after = view_of(four, 4);
  finish(before);
  finish(after);
  va__view *gone = view_of(three, 3);
  gone->members[1].status = VA__MEMBER_LEAVING;
  finish(gone);
  int to_n4 = 0;
  for (int i = 0; i < IDS; i++) {
    const char *was = owner(before, T_TASK, i), *now = owner(after, T_TASK, i);
    if (strcmp(was, now)) { /* a join moves actors only to the new member */
      assert_string_equal(now, "n4");
      to_n4++;
    }
    const char *left = owner(gone, T_TASK, i);
    if (strcmp(was, "n2"))
      assert_string_equal(left, was); /* the others keep theirs */
    else
      assert_string_not_equal(left, "n2");
  }
  assert_true(to_n4 > IDS * 20 / 100 && to_n4 < IDS * 30 / 100);
  va__view_free(before);
  va__view_free(after);
  va__view_free(gone);
}

static void dead_and_leaving_members_get_nothing(void **state) {
  (void)state;
  const char *ids[] = {"n1", "n2"};
  va__view *v = view_of(ids, 2);
  v->members[0].status = VA__MEMBER_DEAD;
  v->members[1].status = VA__MEMBER_SUSPECT; /* still placed on */
  finish(v);
  for (int i = 0; i < 100; i++)
    assert_string_equal(owner(v, T_TASK, i), "n2");
  v->members[1].status = VA__MEMBER_LEAVING;
  assert_null(owner(v, T_TASK, 0));
  va__view_free(v);
}

static void app_types_go_to_their_hosts(void **state) {
  (void)state;
  const char *ids[] = {"n1", "n2", "n3"};
  va__view *v = view_of(ids, 3);
  free(v->members[2].types);
  v->members[2].types = strdup("Other,Cart");
  finish(v);
  for (int i = 0; i < 200; i++)
    assert_string_equal(owner(v, T_APP, i), "n3");
  int n3 = 0;
  for (int i = 0; i < 300; i++)
    n3 += !strcmp(owner(v, T_TASK, i), "n3");
  assert_true(n3 > 50 && n3 < 150); /* the runtime's types: everywhere */
  va__view_free(v);
}

/* An app's actors ("{app type}/{id}") go to the members whose app lists
 * the app type, and nowhere when none does. */
static int app_owner(const va__view *v, const char *key) {
  return va__view_place_app(v, key, strlen(key));
}

static void app_actors_go_to_their_hosts(void **state) {
  (void)state;
  const char *ids[] = {"n1", "n2", "n3"};
  va__view *v = view_of(ids, 3);
  free(v->members[0].types);
  v->members[0].types = strdup("Cart");
  free(v->members[2].types);
  v->members[2].types = strdup("Other,Cart");
  finish(v);
  int on[3] = {0};
  for (int i = 0; i < 300; i++) {
    char key[32];
    snprintf(key, sizeof(key), "Cart/c%d", i);
    int m = app_owner(v, key);
    assert_true(m == 0 || m == 2);
    on[m]++;
  }
  assert_true(on[0] > 50 && on[2] > 50);
  assert_int_equal(app_owner(v, "Other/x"), 2);
  assert_int_equal(app_owner(v, "Car/x"), -1); /* a prefix is no match */
  assert_int_equal(app_owner(v, "None/x"), -1);
  assert_int_equal(app_owner(v, "Cart"), -1); /* no '/': no app's actor */
  assert_int_equal(app_owner(v, "/x"), -1);
  assert_true(va__view_hosts_app(v, "Other", 5));
  assert_false(va__view_hosts_app(v, "None", 4));
  v->members[2].status = VA__MEMBER_DEAD;
  assert_false(va__view_hosts_app(v, "Other", 5));
  assert_int_equal(app_owner(v, "Other/x"), -1);
  assert_int_equal(app_owner(v, "Cart/c1"), 0);
  va__view_free(v);
}

static void votes(va__view *v, int member, const char *unreachable) {
  free(v->members[member].unreachable);
  v->members[member].unreachable = strdup(unreachable);
}

/* The members cut, as their ids joined by ' ' ("" when none). */
static const char *cut_of(const va__view *v) {
  static char out[256];
  bool cut[VA__VIEW_MEMBERS_MAX];
  size_t n = va__view_cut_off(v, cut), seen = 0;
  out[0] = 0;
  for (size_t i = 0; i < v->n; i++)
    if (cut[i]) {
      strcat(out, seen++ ? " " : "");
      strcat(out, v->members[i].id);
    }
  assert_int_equal(seen, n);
  return out;
}

static void votes_cut_off_the_member_the_others_cannot_reach(void **state) {
  (void)state;
  const char *ids[] = {"n1", "n2", "n3", "n4"};
  va__view *v = view_of(ids, 3);
  finish(v);
  assert_string_equal(cut_of(v), "");
  /* n3 cut off from both: it cannot reach them, nor they it. */
  votes(v, 0, "n3:1");
  votes(v, 1, "n3:1");
  votes(v, 2, "n1:1,n2:1");
  assert_string_equal(cut_of(v), "n3");
  /* Votes for an incarnation before n3's present one do not count. */
  v->members[2].incarnation = 2;
  assert_string_equal(cut_of(v), "");
  v->members[2].incarnation = 1;
  /* One of two others is no majority (a link between two nodes only). */
  votes(v, 1, "");
  votes(v, 2, "n1:1");
  assert_string_equal(cut_of(v), "");
  /* A member whose lease the read found over votes no more. */
  votes(v, 1, "n3:1");
  v->members[1].lease_left_ms = 0;
  assert_string_equal(cut_of(v), "");
  v->members[1].lease_left_ms = 2000;
  assert_string_equal(cut_of(v), "n3");
  /* An expelled member is out already: cut no more, and its votes and
   * its place in the count are gone. */
  v->members[2].status = VA__MEMBER_EXPELLED;
  assert_string_equal(cut_of(v), "");
  v->members[2].status = VA__MEMBER_ALIVE;
  votes(v, 1, "");
  /* A dead member neither votes nor counts: the two left, apart, lose
   * the one with the greatest id. */
  v->members[0].status = VA__MEMBER_DEAD;
  votes(v, 1, "n3:1");
  votes(v, 2, "n2:1");
  assert_string_equal(cut_of(v), "n3");
  va__view_free(v);
  /* Two against two: one side goes whole, the other stays. */
  v = view_of(ids, 4);
  finish(v);
  votes(v, 0, "n3:1,n4:1");
  votes(v, 1, "n3:1,n4:1");
  votes(v, 2, "n1:1,n2:1");
  votes(v, 3, "n1:1,n2:1");
  assert_string_equal(cut_of(v), "n3 n4");
  /* A name that only starts like a member's is not a vote for it. */
  votes(v, 0, "n33:1,xn4:1");
  votes(v, 1, "n3:11");
  votes(v, 2, "");
  votes(v, 3, "");
  assert_string_equal(cut_of(v), "");
  va__view_free(v);
}

static void statuses_read_back(void **state) {
  (void)state;
  va__member_status s;
  assert_true(va__member_status_parse("leaving", &s));
  assert_int_equal(s, VA__MEMBER_LEAVING);
  assert_false(va__member_status_parse("Alive", &s));
  assert_false(va__member_status_parse("", &s));
  assert_string_equal(va__member_status_name(VA__MEMBER_SUSPECT), "suspect");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(spreads_evenly),
      cmocka_unit_test(a_leaving_member_moves_only_its_actors),
      cmocka_unit_test(dead_and_leaving_members_get_nothing),
      cmocka_unit_test(app_types_go_to_their_hosts),
      cmocka_unit_test(app_actors_go_to_their_hosts),
      cmocka_unit_test(votes_cut_off_the_member_the_others_cannot_reach),
      cmocka_unit_test(statuses_read_back),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
