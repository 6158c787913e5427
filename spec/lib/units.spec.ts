import { expect } from 'chai';
import fc from 'fast-check';
import { UNITS } from '../../lib/protocol.js';
import {
  celsiusToFahrenheit,
  formatValue,
  hectopascalsToInchesOfMercury,
  isUnitSystem,
  millimetresToInches,
  toDisplay,
} from '../../lib/units.js';

describe('lib/units', () => {
  describe('conversions', () => {
    it('gives 32 °F for 0 °C, 212 °F for 100 °C, and meets at -40', () => {
      expect(celsiusToFahrenheit(0)).to.equal(32);
      expect(celsiusToFahrenheit(100)).to.equal(212);
      expect(celsiusToFahrenheit(-40)).to.equal(-40);
    });

    it('gives 29.92 inHg for the standard atmosphere, 1013.25 hPa', () => {
      expect(hectopascalsToInchesOfMercury(1013.25)).to.be.closeTo(29.921, 0.0005);
    });

    it('gives 1 in for 25.4 mm, exactly', () => {
      expect(millimetresToInches(25.4)).to.equal(1);
      expect(millimetresToInches(0)).to.equal(0);
    });
  });

  describe('toDisplay', () => {
    it('converts each metric unit of the wire for a US display, rounded as shown', () => {
      expect(toDisplay(0, UNITS.temperature, 'us')).to.deep.equal({
        value: 32,
        unit: '°F',
        decimals: 1,
      });
      expect(toDisplay(1013.25, UNITS.pressure, 'us')).to.deep.equal({
        value: 29.92,
        unit: 'inHg',
        decimals: 2,
      });
      expect(toDisplay(25.4, UNITS.rainfall, 'us')).to.deep.equal({
        value: 1,
        unit: 'in',
        decimals: 2,
      });
    });

    it('leaves a metric display as the wire gave it', () => {
      expect(toDisplay(1026.9, 'hPa', 'metric')).to.deep.equal({
        value: 1026.9,
        unit: 'hPa',
        decimals: 1,
      });
    });

    it('shows a unit it does not know as it came, in either system', () => {
      expect(toDisplay(3, 'm/s', 'us')).to.deep.equal({ value: 3, unit: 'm/s', decimals: 1 });
    });

    it('comes back to the metric value within half a displayed step (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: -900, max: 600 }), (tenths) => {
          const celsius = tenths / 10;
          const { value } = toDisplay(celsius, '°C', 'us');
          expect(((value - 32) * 5) / 9).to.be.closeTo(celsius, (0.05 * 5) / 9 + 1e-9);
        }),
      );
    });
  });

  describe('formatValue', () => {
    it('prints the value to its decimals with its unit', () => {
      expect(formatValue(5, '°C', 'us')).to.equal('41.0 °F');
      expect(formatValue(1013.25, 'hPa', 'us')).to.equal('29.92 inHg');
      expect(formatValue(3.2, 'mm', 'us')).to.equal('0.13 in');
      expect(formatValue(0.2, 'mm', 'us')).to.equal('0.01 in');
      expect(formatValue(3.8, '°C', 'metric')).to.equal('3.8 °C');
      expect(formatValue(0, 'mm', 'metric')).to.equal('0.0 mm');
    });

    it('never prints a negative zero', () => {
      expect(formatValue(-0, '°C', 'metric')).to.equal('0.0 °C');
      expect(formatValue(-0.04, '°C', 'metric')).to.equal('0.0 °C');
      expect(formatValue(-17.79, '°C', 'us')).to.equal('0.0 °F');
    });
  });

  it('knows the two unit systems and nothing else', () => {
    expect(isUnitSystem('metric')).to.equal(true);
    expect(isUnitSystem('us')).to.equal(true);
    for (const other of ['imperial', 'US', '', undefined, 1])
      expect(isUnitSystem(other)).to.equal(false);
  });
});
