/**
 * parseManifestText: a manifest file's text to the objects kpx uses, or the problems that make the file
 * unusable (pure; the manifests source decides to keep a broken file's last valid objects).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifestText } from '../../../src/source/manifest-parse.js';

const keys = (text: string, file = 'x.yaml') => parseManifestText(text, file).objects.map((o) => o.key);

describe('parseManifestText', () => {
  test('empty files, comments and trailing document markers hold nothing and are not errors', () => {
    for (const text of ['', '\n', '# only a comment\n', '---\n', '---\n---\n']) {
      const r = parseManifestText(text, 'a.yaml');
      assert.deepEqual([r.objects, r.problems], [[], []], JSON.stringify(text));
    }
    assert.deepEqual(parseManifestText('  ', 'a.json').problems, []);
  });

  test('namespaced kinds default to "default"; a Node has no namespace; kind and apiVersion are filled', () => {
    const r = parseManifestText('kind: Service\nmetadata: {name: a}\n---\nkind: Node\nmetadata: {name: n, namespace: x}\n', 'a.yaml');
    assert.deepEqual(r.objects.map((o) => o.key), ['Service/default/a', 'Node//n']);
    assert.equal(r.objects[0].obj.apiVersion, 'v1');
    assert.equal(r.objects[1].obj.metadata?.namespace, undefined);
  });

  test('List documents are expanded; a bad item names its document and item index', () => {
    assert.deepEqual(keys('kind: List\nitems:\n- {kind: Service, metadata: {name: a}}\n- {kind: Node, metadata: {name: n}}\n'),
      ['Service/default/a', 'Node//n']);
    const bad = parseManifestText('kind: Service\nmetadata: {name: z}\n---\nkind: List\nitems:\n- {kind: Service, metadata: {name: a}}\n- {kind: Service}\n', 'a.yaml');
    assert.deepEqual(bad.problems, [{ document: 1, item: 1, message: 'Service without metadata.name' }]);
  });

  test('other kinds and other API groups are ignored, not errors', () => {
    const r = parseManifestText([
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}',
      'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: fn}',
      'apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: old}',
    ].join('\n---\n'), 'a.yaml');
    assert.deepEqual([r.objects.length, r.problems.length, r.ignored], [0, 0, 3]);
  });

  test('problems: bad YAML, bad JSON, a scalar document, missing kind or name, a non-string namespace', () => {
    const cases: [string, string, RegExp][] = [
      ['a.yaml', 'kind: Service\nmetadata: {name: a\n', /invalid YAML/],
      ['a.json', '{"kind":', /invalid JSON/],
      ['a.json', '[1, 2]', /not an object/],
      ['a.yaml', 'just a string', /not an object/],
      ['a.yaml', 'metadata: {name: a}', /missing kind/],
      ['a.yaml', 'kind: Service\nmetadata: {}', /without metadata.name/],
      ['a.yaml', 'kind: Service\nmetadata: {name: a, namespace: [x]}', /namespace is not a string/],
    ];
    for (const [file, text, re] of cases) {
      const r = parseManifestText(text, file);
      assert.equal(r.problems.length, 1, `${file}: ${text}`);
      assert.match(r.problems[0].message, re);
    }
  });

  test('the same object twice in one file: the later wins and is reported as a duplicate', () => {
    const r = parseManifestText('kind: Service\nmetadata: {name: a}\nspec: {clusterIP: 10.0.0.1}\n---\n'
      + 'kind: Service\nmetadata: {name: a}\nspec: {clusterIP: 10.0.0.2}\n', 'a.yaml');
    assert.deepEqual(r.duplicates, ['Service/default/a']);
    assert.equal(r.objects.length, 1);
    assert.equal((r.objects[0].obj as { spec: { clusterIP: string } }).spec.clusterIP, '10.0.0.2');
  });

  test('objects for another proxy, and headless slices, are ignored', () => {
    assert.deepEqual(keys('kind: Service\nmetadata: {name: a, labels: {service.kubernetes.io/service-proxy-name: x}}\n---\n'
      + 'kind: EndpointSlice\nmetadata: {name: s, labels: {service.kubernetes.io/headless: ""}}\n'), []);
  });
});
