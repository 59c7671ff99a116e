// Redis Cluster (three primaries, three replicas) kept true: the primary serving reaper-flow's slot
// (the default prefix's hash tag puts every key there) SIGKILLed mid-DAG, its replica promoted, the
// apps carrying on without a restart and nothing run twice. The scenario is shared with Sentinel.
import { describeRedisFailover } from './support/redis-failover';

describeRedisFailover('cluster');
