import { readClusterConfig } from '@cachelab/lab/cluster/config.ts';
import { prepareCommands } from '@cachelab/lab/instance-languages.ts';
import { describe, expect, it } from 'vitest';

describe('INSTANCE_LANGUAGES, the language of each instance of npm start', () => {
  it('runs Node instances only when it is unset, as many as INSTANCES says', () => {
    expect(readClusterConfig({}).languages).toEqual(['node', 'node', 'node']);
    expect(readClusterConfig({ INSTANCES: '2' }).languages).toEqual(['node', 'node']);
  });

  it('gives one instance per language listed, in order, setting the number of instances', () => {
    const config = readClusterConfig({ INSTANCE_LANGUAGES: ' node, NODE ' });
    expect(config.languages).toEqual(['node', 'node']);
    expect(config.instances).toBe(2);
    expect(config.appPorts).toHaveLength(2);
    expect(readClusterConfig({ INSTANCES: '2', INSTANCE_LANGUAGES: 'node,node' }).instances).toBe(
      2,
    );
  });

  it('accepts python, whose instance is prepared (its virtual environment) before it starts', () => {
    const config = readClusterConfig({ INSTANCE_LANGUAGES: 'node,node,python' });
    expect(config.languages).toEqual(['node', 'node', 'python']);
    expect(prepareCommands(config.languages)).toEqual([['bash', 'languages/python/setup.sh']]);
    expect(prepareCommands(['node', 'node'])).toEqual([]);
  });

  it('names a language of the course outline that has no instance yet, and those that have one', () => {
    expect(() => readClusterConfig({ INSTANCE_LANGUAGES: 'node,java' })).toThrow(
      '`INSTANCE_LANGUAGES`: java has no cachelab instance yet (instances exist in: node, python, go)',
    );
  });

  it('refuses a name that is no language it knows, and a count that disagrees with INSTANCES', () => {
    expect(() => readClusterConfig({ INSTANCE_LANGUAGES: 'node,cobol' })).toThrow(
      /"cobol" is not a language cachelab knows \(instances exist in: node, python, go; planned: java, rust/,
    );
    expect(() => readClusterConfig({ INSTANCES: '3', INSTANCE_LANGUAGES: 'node,node' })).toThrow(
      '`INSTANCE_LANGUAGES` names 2 instance(s) but `INSTANCES` is 3',
    );
    expect(() =>
      readClusterConfig({ INSTANCE_LANGUAGES: Array(33).fill('node').join(',') }),
    ).toThrow('at most 32 instances');
  });
});
