// Package sentinel tracks the master of one Redis Sentinel master set, for
// the engine's Sentinel mode: the engine connects a standalone client to
// Watcher.Master and swaps clients when Watcher.Changes delivers a new
// address.
//
// # Why not rueidis's sentinel client
//
// rueidis's sentinel client subscribes to one sentinel and switches only on
// +switch-master. The sentinel that leads a failover publishes that event at
// the end of the failover, after it has reconfigured every replica — about a
// second after the promoted replica became master and after the other
// sentinels already name it. Until then the client keeps writing to the
// demoted master, which acknowledges the writes and drops them when a
// sentinel converts it into a replica of the new master (issue #10, bug 5:
// a third of the acknowledged writes of a failover under load lost, half of
// them acknowledged after every sentinel named the new master). Its
// optional TopologyRefreshInterval asks the sentinels in list order, so
// just after a failover it may ask one that still names the old master.
//
// # How the master is chosen
//
// The Watcher keeps a connection to every sentinel (Options.Addrs) and asks
// each, in one round trip, SENTINEL MASTER (for its config-epoch) and then
// SENTINEL GET-MASTER-ADDR-BY-NAME. The config epoch numbers the
// configurations Sentinel produces: a failover runs under a new, higher
// epoch, and the leader adopts it, and names the promoted replica, once it
// sees that replica report itself master (+promoted-slave); the other
// sentinels adopt it later from the leader's hello messages. So:
//
//   - The Watcher holds (address, epoch) and moves to an address named
//     under a higher epoch than the one it holds, once that server answers
//     ROLE as a master.
//   - Answers under its epoch or an older one are ignored: a sentinel that
//     has not heard of the failover yet names the old master, which still
//     answers ROLE master until it is converted, and following it would send
//     writes back to the server that will drop them. A majority is no
//     guide: for a while after a failover most sentinels lag.
//   - The early switch: when the leader publishes
//     +failover-state-wait-promotion about the master the Watcher follows,
//     it has just sent SLAVEOF NO ONE to the replica named in the message.
//     The Watcher polls ROLE on that replica and switches as soon as it
//     answers master, keeping the epoch it holds, since no sentinel names
//     the replica yet. From that moment nothing replicates the old master,
//     so what it acknowledges is lost; the leader notices the promotion only
//     at its next INFO of the replica, up to a second later (measured here:
//     0.85–0.94s), and waiting for it would lose that second of writes.
//     The leader's answer under the failover's epoch then raises the epoch.
//   - Among sentinels naming different addresses under the same highest
//     epoch (two forced failovers racing), the current address wins, then
//     the one named by more sentinels, then the one first in Addrs.
//   - One exception lets the Watcher follow the sentinels to an epoch no
//     newer than its own: when some sentinel names another address and the
//     current master itself answers ROLE as a replica, the Watcher's
//     configuration is known to be stale, and the highest-epoch answer
//     whose server answers ROLE master is taken. This covers a master set
//     removed and monitored again (its epoch starts again from 0), and a
//     failover that aborts after the early switch (the sentinels turn the
//     promoted replica back into a replica; the writes it took are lost, a
//     rarer case than every failover's second). An unreachable master is
//     not proof of anything and triggers nothing.
//
// The answers come from three sources. Each sentinel's connection is
// subscribed to the events that announce a new configuration
// (+failover-state-wait-promotion, +promoted-slave and
// +failover-state-reconf-slaves from the leader, +config-update-from and
// +switch-master from the others, +reset-master); an event for our master
// set makes the Watcher ask the sentinel that published it, at once. A
// periodic reconcile (Options.RefreshInterval) asks every sentinel, which
// covers lost events and sentinels that restarted. And a sentinel whose
// subscription drops is redialled with backoff and asked again once
// resubscribed.
//
// Left out: sentinels are not discovered (SENTINEL SENTINELS); list them
// all in Options.Addrs. Replicas are not tracked. Writes the promoted
// replica had not received when it was promoted, and those the old master
// acknowledged between the promotion and the Watcher's switch
// (milliseconds), are still lost, as asynchronous replication allows; only
// WAIT or min-replicas-to-write on the server can prevent that.
package sentinel
