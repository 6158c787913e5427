import { expect } from 'chai';
import { type CpuProfile, categoryOf, summarise, timeline } from '../../bench/profileSummary.js';

function frame(functionName: string, url = '') {
  return { functionName, url, lineNumber: 0, columnNumber: 0 };
}

/** Three functions and idle time, sampled every 1 ms. */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)') },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('microstep', 'file:///w/node_modules/xstate/dist/raise-1.cjs.js') },
    { id: 4, callFrame: frame('writeBuffer') },
    { id: 5, callFrame: frame('admit', 'file:///w/dist/machines/connectionMachine.js') },
  ],
  startTime: 0,
  endTime: 10_000,
  samples: [2, 3, 3, 3, 4, 4, 5, 2, 2, 2],
  timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
};

describe('bench/profileSummary', () => {
  it('files functions under the parts of the server issue #4 asks about', () => {
    expect(categoryOf(frame('(idle)'))).to.match(/^idle/);
    expect(
      categoryOf(frame('atomicsWaitLoop', 'file:///w/node_modules/piscina/dist/worker.js')),
    ).to.match(/^idle/);
    expect(categoryOf(frame('macrostep', 'file:///w/node_modules/xstate/dist/x.js'))).to.equal(
      'XState machinery',
    );
    expect(categoryOf(frame('pack', 'file:///w/node_modules/msgpackr/dist/node.cjs'))).to.equal(
      'MessagePack (msgpackr)',
    );
    expect(categoryOf(frame('postTask', 'file:///w/node_modules/piscina/dist/x.js'))).to.equal(
      'pool messaging (piscina)',
    );
    expect(categoryOf(frame('writeGeneric', 'node:internal/stream_base_commons'))).to.match(
      /^socket writes/,
    );
    expect(categoryOf(frame('onStreamRead', 'node:internal/stream_base_commons'))).to.equal(
      'socket reads',
    );
  });

  it('charges each sample its time delta, and leaves idle time out of the busy share', () => {
    const summary = summarise(profile);
    expect(summary.totalMs).to.equal(10);
    expect(summary.idleMs).to.equal(4);
    expect(summary.functions.find((f) => f.name === 'microstep')?.selfMs).to.equal(3);
    expect(summary.categories.find((c) => c.category.startsWith('socket writes'))?.selfMs).to.equal(
      2,
    );
    expect(summary.categories.find((c) => c.category === 'project: machines')?.selfMs).to.equal(1);
  });

  it('keeps to the window asked for', () => {
    const summary = summarise(profile, 2, 4);
    expect(summary.totalMs).to.equal(3);
    expect(summary.functions.map((f) => f.name)).to.deep.equal(['microstep']);
  });

  it('shows the busy share of each second', () => {
    const long: CpuProfile = { ...profile, timeDeltas: profile.timeDeltas.map(() => 250_000) };
    // Samples land at 250 ms, 500 ms, ...: three in the first second, four in the next.
    expect(timeline(long)).to.deep.equal([2 / 3, 1, 0]);
  });
});
