package de.metaleg.agent.model;

/**
 * The firewall marks and route tables available to gateways: every non-zero value under the
 * contiguous {@code mask}, index {@code i} = mark {@code i << shift} = table {@code offset + i}.
 */
public record MarkSpace(long mask, long tableOffset) {
  public static final long MAX_TABLE = 0xFFFFFFFFL;

  public MarkSpace {
    if (mask <= 0 || mask > 0xFFFFFFFFL) {
      throw new IllegalArgumentException("mask must be a non-zero 32-bit value");
    }
    long shifted = mask >>> Long.numberOfTrailingZeros(mask);
    if ((shifted & (shifted + 1)) != 0) {
      throw new IllegalArgumentException("mask bits must be contiguous");
    }
    if (Long.bitCount(mask) < 2) {
      throw new IllegalArgumentException("mask needs at least 2 bits (3 gateways)");
    }
    long first = tableOffset + 1;
    long last = tableOffset + ((1L << Long.bitCount(mask)) - 1);
    if (tableOffset < 0 || last > MAX_TABLE) {
      throw new IllegalArgumentException(
          "route tables " + first + ".." + last + " must lie inside 1.." + MAX_TABLE);
    }
    if (first <= 255 && last >= 253) {
      throw new IllegalArgumentException(
          "route tables "
              + first
              + ".."
              + last
              + " overlap the reserved tables 253-255 (default, main, local)");
    }
  }

  public int shift() {
    return Long.numberOfTrailingZeros(mask);
  }

  /** Number of usable marks (gateways): 2^bits - 1, since mark 0 means "not ours". */
  public int maxIndex() {
    return (int) ((1L << Long.bitCount(mask)) - 1);
  }

  public long mark(int index) {
    checkIndex(index);
    return ((long) index) << shift();
  }

  public long table(int index) {
    checkIndex(index);
    return tableOffset + index;
  }

  public long firstTable() {
    return tableOffset + 1;
  }

  public long lastTable() {
    return tableOffset + maxIndex();
  }

  public boolean ownsTable(long table) {
    return table >= firstTable() && table <= lastTable();
  }

  /** The index whose table is {@code table}; only for owned tables. */
  public int indexOfTable(long table) {
    if (!ownsTable(table)) {
      throw new IllegalArgumentException("table " + table + " is not MetalEG's");
    }
    return (int) (table - tableOffset);
  }

  private void checkIndex(int index) {
    if (index < 1 || index > maxIndex()) {
      throw new IllegalArgumentException("mark index out of range: " + index);
    }
  }

  public static String hex(long value) {
    return "0x" + Long.toHexString(value);
  }
}
