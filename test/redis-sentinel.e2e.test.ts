// Redis with Sentinel (a primary, two replicas, three sentinels) kept true: the primary SIGKILLed
// mid-DAG, Sentinel promoting a replica, the apps carrying on without a restart and nothing run
// twice. The scenario is shared with Redis Cluster; the start-up failures are in redis-startup.
import { describeRedisFailover } from './support/redis-failover';

describeRedisFailover('sentinel');
