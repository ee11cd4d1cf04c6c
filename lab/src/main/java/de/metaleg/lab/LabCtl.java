package de.metaleg.lab;

import de.metaleg.lab.Cluster.ServiceRef;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.nio.file.Path;
import java.util.List;

/**
 * Small CLI for the demo and for poking at a running lab by hand (KUBECONFIG points at the lab's
 * API server): {@code java -cp metaleg-lab.jar de.metaleg.lab.LabCtl COMMAND}.
 *
 * <pre>
 *   setup                  Nodes, Service default/web (not labelled), EndpointSlices, announce node-2
 *   label on|off           set or remove metaleg.de/rewriteSrcIP on default/web
 *   announce NODE|none     MetalLB moves the LB IPs to NODE (status object + router neighbours)
 *   failover NODE          the same in MetalLB's order: neighbours, delete, create, status.node
 *   delete-service         delete default/web and its EndpointSlices
 *   wait-ready [SECONDS]   wait until every plan is Ready for its current generation
 *   plans                  print the EgressPlans
 * </pre>
 *
 * The lab-net.sh path comes from LAB_NET (default lab/scripts/lab-net.sh).
 */
public final class LabCtl {
  static final ServiceRef WEB = new ServiceRef("default", "web");
  static final List<String> ENDPOINT_PODS = List.of("1a", "2a", "3a");

  private LabCtl() {}

  public static void main(String[] args) throws Exception {
    // fabric8 warns that metallb.io/v1beta1 is not a stable version: noise for a CLI.
    System.setProperty(
        "org.slf4j.simpleLogger.log.io.fabric8.kubernetes.client.dsl.internal.VersionUsageUtils",
        "error");
    if (args.length == 0) {
      usage("no command");
    }
    LabPlan plan =
        LabPlan.load(Path.of(System.getenv().getOrDefault("LAB_NET", "lab/scripts/lab-net.sh")));
    try (KubernetesClient client = new KubernetesClientBuilder().build()) {
      Cluster cluster = new Cluster(client, "metallb-system");
      MetalLbSimulator metallb = new MetalLbSimulator(cluster, plan);
      switch (args[0]) {
        case "setup" -> {
          for (LabPlan.Node n : plan.nodes()) {
            cluster.upsertNode(n.name(), n.ipv4(), n.ipv6());
          }
          if (client.services().inNamespace(WEB.namespace()).withName(WEB.name()).get() == null) {
            cluster.createService(
                WEB, false, plan.lbIPv4(), plan.lbIPv6(), plan.endpoints(ENDPOINT_PODS));
          }
          metallb.announce(WEB, "node-2");
        }
        case "label" -> cluster.setOptIn(WEB, "on".equals(arg(args, 1)));
        case "announce" -> {
          String node = arg(args, 1);
          if ("none".equals(node)) {
            metallb.withdraw(WEB);
          } else {
            metallb.announce(WEB, node);
          }
        }
        case "failover" -> metallb.failover(WEB, arg(args, 1));
        case "delete-service" -> {
          cluster.deleteService(WEB);
          cluster.deleteL2Statuses(WEB);
        }
        case "wait-ready" -> {
          long deadline =
              System.currentTimeMillis() + 1000L * (args.length > 1 ? Long.parseLong(args[1]) : 60);
          List<String> nodes = plan.nodes().stream().map(LabPlan.Node::name).toList();
          String wrong;
          while (!(wrong = PlanTable.notReady(cluster.plans(), nodes)).isEmpty()) {
            if (System.currentTimeMillis() > deadline) {
              System.err.println("plans not Ready: " + wrong);
              System.exit(1);
            }
            Thread.sleep(250);
          }
        }
        case "plans" -> System.out.print(PlanTable.render(cluster.plans()));
        default -> usage("unknown command " + args[0]);
      }
    }
  }

  private static String arg(String[] args, int i) {
    if (args.length <= i) {
      usage(args[0] + " needs an argument");
    }
    return args[i];
  }

  private static void usage(String why) {
    System.err.println("labctl: " + why);
    System.err.println(
        "usage: LabCtl setup | label on|off | announce NODE|none | failover NODE | delete-service"
            + " | wait-ready [SECONDS] | plans");
    System.exit(2);
  }
}
