package de.metaleg.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.Config;
import java.net.URI;
import org.junit.jupiter.api.Test;

class KubeconfigTest {
  @Test
  void fabric8ReadsTheRenderedKubeconfig() {
    Config config = Config.fromKubeconfig(Kubeconfig.render(URI.create("http://10.89.0.2:6443")));
    assertEquals("http://10.89.0.2:6443/", config.getMasterUrl());
    assertEquals("default", config.getNamespace());
  }

  @Test
  void ipv6HostsGetBrackets() {
    assertEquals(URI.create("http://[fd89::2]:6443"), Kubeconfig.httpUri("fd89::2", 6443));
  }

  @Test
  void rejectsHttps() {
    assertThrows(
        IllegalArgumentException.class,
        () -> Kubeconfig.render(URI.create("https://10.89.0.2:6443")));
  }

  @Test
  void apiServerFlagsParse() {
    ApiServerMain.Options o =
        ApiServerMain.parse(
            new String[] {
              "--address", "10.89.0.2", "--port", "6443",
              "--kubeconfig", "a.yaml", "--kubeconfig", "b.yaml=http://127.0.0.1:16443"
            });
    assertEquals("10.89.0.2", o.address());
    assertEquals(null, o.kubeconfigs().get(0).url());
    assertEquals(URI.create("http://127.0.0.1:16443"), o.kubeconfigs().get(1).url());
    assertTrue(
        assertThrows(
                IllegalArgumentException.class,
                () -> ApiServerMain.parse(new String[] {"--port", "x"}))
            .getMessage()
            .contains("'x'"));
  }
}
