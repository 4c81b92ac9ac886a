/** kube-sink.ts: posts Events to the API server (events.k8s.io/v1) with the client the source uses. */
import * as k8s from '@kubernetes/client-node';
import type { EventBody, EventSink } from './recorder.js';

export function createKubeEventSink(kc: k8s.KubeConfig): EventSink {
  const api = kc.makeApiClient(k8s.EventsV1Api);
  return {
    async create(namespace: string, body: EventBody): Promise<void> {
      await api.createNamespacedEvent({ namespace, body: body as unknown as k8s.EventsV1Event });
    },
  };
}
