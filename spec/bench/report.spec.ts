import { expect } from 'chai';
import { median, parseConfigurations, ratios, runKinds, significant } from '../../bench/report.js';

describe('bench/report', () => {
  it('parses CxK as a throughput configuration and a bare count as the connections one', () => {
    expect(parseConfigurations('1x1, 50x16,10000')).to.deep.equal([
      { kind: 'throughput', name: '1x1', connections: 1, depth: 1, variant: null },
      { kind: 'throughput', name: '50x16', connections: 50, depth: 16, variant: null },
      { kind: 'connections', name: '10000', connections: 10_000, variant: null },
    ]);
  });

  it('parses +page as the same configuration with a live page, run against the product without one (#13)', () => {
    const [throughput, connections] = parseConfigurations('50x1+page,10000+page');
    expect(throughput).to.deep.equal({
      kind: 'throughput',
      name: '50x1+page',
      connections: 50,
      depth: 1,
      variant: 'page',
    });
    expect(connections).to.include({ kind: 'connections', connections: 10_000, variant: 'page' });
    if (!throughput) throw new Error('no configuration parsed');
    expect(runKinds(throughput, ['product', 'baseline'])).to.deep.equal(['product', 'page']);
    expect(() => parseConfigurations('50x1+pages')).to.throw(RangeError, /--configs/);
  });

  it('parses +inspect as the product with its machines inspected, run against the product without', () => {
    const [throughput] = parseConfigurations('1000x1+inspect');
    expect(throughput).to.deep.equal({
      kind: 'throughput',
      name: '1000x1+inspect',
      connections: 1000,
      depth: 1,
      variant: 'inspect',
    });
    if (!throughput) throw new Error('no configuration parsed');
    expect(runKinds(throughput, ['product', 'baseline'])).to.deep.equal(['product', 'inspect']);
    expect(() => parseConfigurations('50x1+page+inspect')).to.throw(RangeError, /--configs/);
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
