using Akka.Configuration;
using LlmEngine.Contracts;

namespace LlmEngine.Actors.Cluster;

/// <summary>
/// The cluster settings of engine replicas (docs/cluster.md), on top of Akka.Cluster's defaults:
/// a failure detector that calls a silent node unreachable within about 4 s (heartbeat every
/// second, 3 s of pause accepted), so the routers drop it then; and the split-brain resolver's
/// keep-oldest, down-if-alone, deciding 5 s after the membership settles: the side with the oldest
/// member is kept, unless the oldest is cut off alone from two or more others, which then carry on
/// (so with three nodes any one crash leaves a cluster; with two, only the oldest survives, and
/// keep-majority would instead keep whichever has the lower address). It binds the contracts' serializer too: a router, which loads no
/// engine settings, reads the replicas' reports with it.
/// </summary>
public static class ClusterHocon
{
    public static Config Config { get; } = ConfigurationFactory.ParseString("""
        akka.cluster {
          failure-detector {
            heartbeat-interval = 1s
            acceptable-heartbeat-pause = 3s
          }
          downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
          split-brain-resolver {
            active-strategy = keep-oldest
            stable-after = 5s
            keep-oldest.down-if-alone = on
          }
        }
        akka.cluster.pub-sub.gossip-interval = 200ms
        """).WithFallback(RemoteContracts.Config);
}
