import { ms, table } from './report-format.ts';
import type { ClusterResults } from './sections/cluster.ts';

/** The Markdown of the Redis Cluster section (it checks no target). */
export function clusterSection(r: ClusterResults): string {
  const propagation = r.propagation.map((row) => [
    `**${row.name}** (${row.what})`,
    ms(row.fromWriteReturnMs.p50),
    ms(row.fromWriteReturnMs.p99),
    ms(row.fromWriteStartMs.p50),
    ms(row.fromWriteStartMs.p99),
    ms(row.writeCallMs.p50),
    String(row.lost),
  ]);
  const traffic = r.traffic.runs.flatMap((run) =>
    run.nodes.map((node) => [
      run.pubsub === 'global' ? 'global PUBLISH' : 'sharded SPUBLISH',
      `${node.port} (${node.role})`,
      String(node.publishSent),
      String(node.publishReceived),
      String(node.publishshardSent),
      String(node.publishshardReceived),
    ]),
  );
  const total = (run: ClusterResults['traffic']['runs'][number]) =>
    run.nodes.reduce((sum, node) => sum + node.publishSent + node.publishshardSent, 0);
  const touched = (run: ClusterResults['traffic']['runs'][number]) =>
    run.nodes.filter((node) => node.publishReceived + node.publishshardReceived > 0).length;
  const summary = r.traffic.runs
    .map(
      (run) =>
        `${run.pubsub}: ${(total(run) / Math.max(1, r.traffic.writes)).toFixed(2)} cluster-bus messages sent per write, received by ${touched(run)} of ${run.nodes.length - 1} other nodes`,
    )
    .join('; ');
  return `## 6. Redis Cluster

A cluster of the bench's own: ${r.topology}.

Propagation, as in section 3 (writer process A, reader process B holding the key in L1; ms from
A's write call returning, and from its start, to B's L1 no longer serving the old version), on
the one Redis of this run and on the cluster, with the cache's \`pubsub: 'sharded'\` (the default
of an instance on a cluster) and \`pubsub: 'global'\`:

${table(['path', 'p50 ms', 'p99 ms', 'p50 from start', 'p99 from start', 'write call p50', 'lost'], propagation, ['---', '---:', '---:', '---:', '---:', '---:', '---:'])}

Pub/Sub traffic of ${r.traffic.writes} invalidations of \`${r.traffic.key}\` (slot ${r.traffic.keySlot}) by a writer cache, a
reader cache subscribed, heartbeats every 60 s (none during the writes): the messages each node
sent and received over the cluster bus, from its own \`CLUSTER INFO\` counters
(\`cluster_stats_messages_publish_*\`, \`cluster_stats_messages_publishshard_*\`) before and after.
A global \`PUBLISH\` is forwarded to every node of the cluster; an \`SPUBLISH\` only to the replicas
of the shard that owns the channel (the publishing master). ${summary}.

${table(['pubsub', 'node', 'publish sent', 'publish received', 'publishshard sent', 'publishshard received'], traffic, ['---', '---', '---:', '---:', '---:', '---:'])}`;
}
