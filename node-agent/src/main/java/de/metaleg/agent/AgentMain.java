package de.metaleg.agent;

/** Entry point of metaleg-node-agent.jar. */
public final class AgentMain {
  private AgentMain() {}

  public static void main(String[] args) {
    System.out.println("metaleg-node-agent: not implemented yet");
  }
}
