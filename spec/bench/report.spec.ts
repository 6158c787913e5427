import { expect } from 'chai';
import { median, parseConfigurations, ratios, significant } from '../../bench/report.js';

describe('bench/report', () => {
  it('parses CxK as a throughput configuration and a bare count as the connections one', () => {
    expect(parseConfigurations('1x1, 50x16,10000')).to.deep.equal([
      { kind: 'throughput', name: '1x1', connections: 1, depth: 1 },
      { kind: 'throughput', name: '50x16', connections: 50, depth: 16 },
      { kind: 'connections', name: '10000', connections: 10_000 },
    ]);
  });

  it('refuses a configuration it cannot run, naming the flag', () => {
    for (const text of ['50x', 'fifty', '0x1', '50x0', '5', '', '20000x1']) {
      expect(() => parseConfigurations(text), text).to.throw(RangeError, /--configs/);
    }
  });

  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, 2, 3])).to.equal(2.5);
    expect(median([])).to.be.NaN;
  });

  it('gives each figure as product ÷ baseline, and null where there is no baseline', () => {
    const figures = ['a', 'b', 'c'] as const;
    expect(ratios(figures, { a: 10, b: 3, c: 1 }, { a: 40, b: 0, c: Number.NaN })).to.deep.equal({
      a: 0.25,
      b: null,
      c: null,
    });
    expect(ratios(figures, { a: 1, b: 1, c: 1 }, undefined)).to.deep.equal({
      a: null,
      b: null,
      c: null,
    });
  });

  it('rounds to significant digits', () => {
    expect(significant(123_456, 3)).to.equal(123_000);
    expect(significant(0.012345, 2)).to.equal(0.012);
  });
});
