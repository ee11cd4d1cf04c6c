package de.metaleg.common;

/** A bad configuration value; the message names the variable and the value. */
public class ConfigException extends IllegalArgumentException {
  public ConfigException(String variable, String value, String why) {
    super(variable + "=\"" + value + "\": " + why);
  }
}
