/**
 * Units for display. The wire is metric, always (docs/PROTOCOL.md §5: °C,
 * hPa, mm, as the welcome says); a client may show US customary units
 * instead (`--units us`). Conversion happens only here, only for people:
 * nothing converted goes back on the wire. Pure.
 */

export const UNIT_SYSTEMS = ['metric', 'us'] as const;
export type UnitSystem = (typeof UNIT_SYSTEMS)[number];

export function isUnitSystem(value: unknown): value is UnitSystem {
  return typeof value === 'string' && (UNIT_SYSTEMS as readonly string[]).includes(value);
}

/** Hectopascals in one inch of mercury (at 0 °C and standard gravity: 3386.389 Pa), the unit US barometers use. */
export const HPA_PER_INCH_OF_MERCURY = 33.86389;
/** Millimetres in one inch, exactly. */
export const MM_PER_INCH = 25.4;

export function celsiusToFahrenheit(celsius: number): number {
  return (celsius * 9) / 5 + 32;
}

export function hectopascalsToInchesOfMercury(hectopascals: number): number {
  return hectopascals / HPA_PER_INCH_OF_MERCURY;
}

export function millimetresToInches(millimetres: number): number {
  return millimetres / MM_PER_INCH;
}

/** A value ready to show: the number (rounded as it is shown), its unit, and the decimals to print. */
export interface DisplayValue {
  readonly value: number;
  readonly unit: string;
  readonly decimals: number;
}

/**
 * What a US display shows for each metric unit of the wire, and to how many
 * decimals: a tenth of a degree Fahrenheit is about as fine as the
 * thermometer's tenth of a degree Celsius; barometers and rain gauges in
 * the US read to hundredths of an inch.
 */
const TO_US: Readonly<
  Record<string, { unit: string; decimals: number; convert: (v: number) => number }>
> = Object.freeze({
  '°C': { unit: '°F', decimals: 1, convert: celsiusToFahrenheit },
  hPa: { unit: 'inHg', decimals: 2, convert: hectopascalsToInchesOfMercury },
  mm: { unit: 'in', decimals: 2, convert: millimetresToInches },
});

function roundTo(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  // + 0 turns -0 into 0, so that -0.01 °F rounds to "0.0", not "-0.0".
  return Math.round(value * scale) / scale + 0;
}

/**
 * A value as the wire gave it (`value` in `unit`, as a `reading` reply has
 * them), for display in `system`. Metric shows the wire's value untouched, to
 * a tenth; US converts °C, hPa and mm and rounds as it shows. A unit this
 * client does not know is shown as it came, whatever the system.
 */
export function toDisplay(value: number, unit: string, system: UnitSystem): DisplayValue {
  const us = system === 'us' ? TO_US[unit] : undefined;
  if (!us) return { value, unit, decimals: 1 };
  return { value: roundTo(us.convert(value), us.decimals), unit: us.unit, decimals: us.decimals };
}

/** `41.0`, `29.92`: the value to its decimals, without its unit (for scripts: `get --raw`). */
export function formatNumber(display: DisplayValue): string {
  return roundTo(display.value, display.decimals).toFixed(display.decimals);
}

/** `41.0 °F`, `29.92 inHg`, `0.12 in`, `5.0 °C`: the value to its decimals and its unit. */
export function formatDisplay(display: DisplayValue): string {
  return `${formatNumber(display)} ${display.unit}`;
}

/** toDisplay, then formatDisplay: one wire value as a person reads it. */
export function formatValue(value: number, unit: string, system: UnitSystem): string {
  return formatDisplay(toDisplay(value, unit, system));
}
