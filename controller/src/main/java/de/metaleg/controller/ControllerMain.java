package de.metaleg.controller;

/** Entry point of metaleg-controller.jar. */
public final class ControllerMain {
  private ControllerMain() {}

  public static void main(String[] args) {
    System.out.println("metaleg-controller: not implemented yet");
  }
}
