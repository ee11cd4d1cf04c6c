package de.metaleg.agent.kernel;

import static de.metaleg.agent.kernel.DataplaneKernelIT.forward;
import static de.metaleg.agent.kernel.KernelTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import de.metaleg.agent.AgentConfig;
import de.metaleg.agent.model.DesiredPlan;
import de.metaleg.agent.render.NodeFacts;
import de.metaleg.common.net.Family;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Jump repair is one transaction that deletes our jump by its spec: a CNI that inserts its own rule
 * at position 1 between our read of the built-in chain and our repair keeps it. Namespaces {@code
 * megA-jr-*}; link 192.0.2.1/24 and 2001:db8::1/64, gateway 192.0.2.2, pod 10.244.1.5.
 */
class JumpRepairKernelIT {
  private KernelTestSupport kernel;
  private NodeFacts facts;

  @BeforeEach
  void setUp() {
    KernelTestSupport.requireKernel();
    kernel = new KernelTestSupport();
    AgentConfig config = AgentConfig.fromEnv(Map.of("NODE_NAME", "node-a"));
    facts = new NodeFacts(config.markSpace(), config.excludeDestinations());
  }

  @AfterEach
  void tearDown() {
    if (kernel != null) {
      kernel.close();
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = Backend.class,
      names = {"IPTABLES_NFT", "IPTABLES_LEGACY"})
  void aRuleInsertedBetweenReadAndRepairSurvives(Backend backend) {
    ProcessRunner ns = kernel.namespace("jr-" + backend.shortName());
    sh(
        ns,
        "ip link add lan0 type veth peer name lan1 && ip link set lan0 up && ip link set lan1 up");
    sh(ns, "ip addr add 192.0.2.1/24 dev lan0 && ip addr add 2001:db8::1/64 dev lan0 nodad");
    String ipt = backend.iptables().iptables(Family.V4);
    String cniA = "-A PREROUTING -m comment --comment cni-a -j RETURN";
    String cniB = "-A PREROUTING -m comment --comment cni-b -j RETURN";
    AtomicBoolean armed = new AtomicBoolean();
    // the CNI strikes right before the first command that changes mangle PREROUTING
    CommandRunner racing =
        (argv, stdin) -> {
          String cmd = String.join(" ", argv);
          boolean repair =
              (stdin != null && stdin.contains("-I PREROUTING 1 -j METALEG-MARK"))
                  || cmd.contains("-I PREROUTING 1 -j METALEG-MARK");
          if (repair && cmd.startsWith(ipt) && armed.getAndSet(false)) {
            sh(ns, ipt + " -t mangle -I PREROUTING 1 -m comment --comment cni-b -j RETURN");
          }
          return ns.run(argv, stdin);
        };
    Dataplane dp = backend.create(racing, facts);
    DesiredPlan plan =
        new DesiredPlan(
            List.of(forward("shop/web", Family.V4, "node-b", "192.0.2.2", "10.244.1.5")));
    dp.sync(plan, false);
    sh(ns, ipt + " -t mangle -I PREROUTING 1 -m comment --comment cni-a -j RETURN");
    assertTrue(dp.drift().orElse("").contains("mangle/METALEG-MARK at position 2"));

    armed.set(true);
    dp.sync(plan, true);
    assertEquals(false, armed.get(), "the race was staged");
    List<String> pre = sh(ns, ipt + " -t mangle -S PREROUTING").lines().skip(1).toList();
    assertEquals(List.of("-A PREROUTING -j METALEG-MARK", cniB, cniA), pre);
    assertEquals(Optional.empty(), dp.drift());
  }
}
