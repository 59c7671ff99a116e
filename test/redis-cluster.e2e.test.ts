// Redis Cluster (three primaries, three replicas) kept true: the primary serving reaper-flow's slot
// (the default prefix's hash tag puts every key there) SIGKILLed mid-DAG, its replica promoted, the
// apps carrying on without a restart and nothing run twice. The scenario is shared with Sentinel.
import { describeRedisFailover } from './support/redis-failover';

// One node agent (the Sentinel file runs six): the scenario needs none, one shows an agent says
// down and up once like the other apps, and five fewer processes keep the file's time down.
describeRedisFailover('cluster', { nodeAgents: 1 });
