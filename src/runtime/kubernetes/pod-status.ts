// An instance's state read from its pod and the pod's events. Pure (table-tested in
// test/unit/kubernetes-pod-status.test.ts): image pull errors, unschedulable pods, failing
// pre_start init containers, OOM kills and evictions become readable reasons.
import type { PollResult } from '../runtime.ts';
import { ANNOTATION_NONCE } from './manifests.ts';

/** The parts of a V1Pod this reads (client-node's V1Pod fits). */
export interface PodLike {
  metadata?: { name?: string; creationTimestamp?: Date | string; deletionTimestamp?: Date | string; annotations?: Record<string, string> };
  spec?: { nodeName?: string; containers?: { name: string; image?: string; resources?: { limits?: Record<string, string> } }[] };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    initContainerStatuses?: ContainerStatusLike[];
    containerStatuses?: ContainerStatusLike[];
  };
}

export interface ContainerStatusLike {
  name: string;
  image?: string;
  restartCount?: number;
  ready?: boolean;
  state?: ContainerStateLike;
  lastState?: ContainerStateLike;
}

interface ContainerStateLike {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: Date | string };
  terminated?: { exitCode: number; reason?: string; message?: string; signal?: number };
}

export interface EventLike {
  type?: string;
  reason?: string;
  message?: string;
  involvedObject?: { name?: string };
  lastTimestamp?: Date | string;
}

export interface PodStatusInput {
  /** What the StatefulSet asks for. */
  replicas: number;
  /** The start the handle belongs to: pods of other starts are ignored. */
  nonce: string;
  pods: readonly PodLike[];
  events: readonly EventLike[];
  now: number;
  /** A pod may wait for a node this long (an autoscaler may add one) before it counts as failed. */
  unschedulableGraceMs: number;
}

const IMAGE_ERRORS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'RegistryUnavailable']);
const CONFIG_ERRORS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

const at = (t: Date | string | undefined) => (t === undefined ? null : new Date(t).getTime());
const suffix = (message: string | undefined) => (message ? `: ${message.trim()}` : '');

function memoryLimit(pod: PodLike, container: string): string {
  const limit = pod.spec?.containers?.find((c) => c.name === container)?.resources?.limits?.memory;
  return limit ? ` of ${limit}` : '';
}

/** The terminated state that explains a container's trouble (the current one, or the last run's). */
const terminatedOf = (s: ContainerStatusLike) => s.state?.terminated ?? (s.state?.waiting?.reason === 'CrashLoopBackOff' ? s.lastState?.terminated : undefined);

function warningsOf(events: readonly EventLike[], pod: string, reasons: string[]): string | null {
  const relevant = events
    .filter((e) => e.involvedObject?.name === pod && e.type === 'Warning' && reasons.includes(e.reason ?? ''))
    .sort((a, b) => (at(b.lastTimestamp) ?? 0) - (at(a.lastTimestamp) ?? 0));
  return relevant[0]?.message?.trim() ?? null;
}

/** The pod of the handle's start, if any. */
export const podOfStart = (pods: readonly PodLike[], nonce: string): PodLike | undefined =>
  pods.find((p) => p.metadata?.annotations?.[ANNOTATION_NONCE] === nonce);

export function derivePodStatus(input: PodStatusInput): PollResult {
  const pod = podOfStart(input.pods, input.nonce);
  if (!pod) {
    if (input.replicas > 0) return { state: 'running' }; // the StatefulSet controller is creating it
    return { state: 'exited', exitCode: null, reason: 'the instance was scaled to zero replicas (stopped)' };
  }
  const name = pod.metadata?.name ?? '(pod)';
  const status = pod.status ?? {};
  if (status.reason === 'Evicted') return { state: 'lost', reason: `the pod ${name} was evicted from its node${suffix(status.message)}` };
  if (status.reason === 'NodeLost' || status.conditions?.some((c) => c.type === 'Ready' && c.status === 'Unknown')) {
    return { state: 'lost', reason: `the node ${pod.spec?.nodeName ?? ''} of pod ${name} stopped responding${suffix(status.message)}`.replace('  ', ' ') };
  }

  for (const s of status.initContainerStatuses ?? []) {
    const t = terminatedOf(s) ?? (s.lastState?.terminated && s.lastState.terminated.exitCode !== 0 ? s.lastState.terminated : undefined);
    if (t && t.exitCode !== 0) {
      const what = t.reason === 'OOMKilled' ? `ran out of memory${memoryLimit(pod, s.name)}` : `failed with exit code ${t.exitCode}`;
      return { state: 'exited', exitCode: t.exitCode, reason: `the pre_start hook (init container ${s.name}) ${what}${suffix(t.message)}` };
    }
    const waiting = s.state?.waiting;
    if (waiting?.reason && IMAGE_ERRORS.has(waiting.reason)) {
      return { state: 'exited', exitCode: null, reason: `the image ${s.image ?? ''} cannot be pulled (${waiting.reason})${suffix(waiting.message)}`.replace('  ', ' ') };
    }
  }

  for (const s of status.containerStatuses ?? []) {
    const waiting = s.state?.waiting;
    if (waiting?.reason && IMAGE_ERRORS.has(waiting.reason)) {
      const image = s.image ?? pod.spec?.containers?.find((c) => c.name === s.name)?.image ?? '';
      return { state: 'exited', exitCode: null, reason: `the image ${image} cannot be pulled (${waiting.reason})${suffix(waiting.message)}` };
    }
    if (waiting?.reason && CONFIG_ERRORS.has(waiting.reason)) {
      return { state: 'exited', exitCode: null, reason: `the container cannot be created (${waiting.reason})${suffix(waiting.message)}` };
    }
    const t = terminatedOf(s);
    if (t) {
      if (t.reason === 'OOMKilled') {
        return { state: 'exited', exitCode: t.exitCode, reason: `the Jupyter server ran out of memory: killed at the flavor's limit${memoryLimit(pod, s.name)} (OOMKilled); choose a flavor with more memory` };
      }
      const restarting = waiting?.reason === 'CrashLoopBackOff' ? ' and keeps crashing (CrashLoopBackOff)' : '';
      return { state: 'exited', exitCode: t.exitCode, reason: `the Jupyter server exited with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}${restarting}${suffix(t.message)}` };
    }
  }

  if (status.phase === 'Failed') return { state: 'exited', exitCode: null, reason: `the pod ${name} failed${status.reason ? ` (${status.reason})` : ''}${suffix(status.message)}` };
  if (status.phase === 'Succeeded') return { state: 'exited', exitCode: 0, reason: 'the Jupyter server exited with code 0' };
  if (pod.metadata?.deletionTimestamp) return { state: 'exited', exitCode: null, reason: `the pod ${name} is being deleted` };

  if (status.phase === 'Pending' || !status.phase) {
    const scheduled = status.conditions?.find((c) => c.type === 'PodScheduled');
    const age = input.now - (at(pod.metadata?.creationTimestamp) ?? input.now);
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable' && age > input.unschedulableGraceMs) {
      const detail = scheduled.message ?? warningsOf(input.events, name, ['FailedScheduling']) ?? undefined;
      return { state: 'exited', exitCode: null, reason: `no node can run the instance's flavor (Unschedulable)${suffix(detail)}` };
    }
    const volume = warningsOf(input.events, name, ['FailedMount', 'FailedAttachVolume']);
    if (volume && age > input.unschedulableGraceMs) return { state: 'exited', exitCode: null, reason: `the volume cannot be mounted${suffix(volume)}` };
  }
  return { state: 'running' };
}

/** For start(): has the pod passed its init container (the BLOCK pre_start hook)? */
export function initOutcome(pod: PodLike | undefined): 'waiting' | 'passed' | { failed: string; container: string; exitCode: number } {
  const inits = pod?.status?.initContainerStatuses ?? [];
  if (inits.length === 0) return 'waiting'; // not scheduled, or the kubelet has not reported yet
  for (const s of inits) {
    const t = s.state?.terminated ?? s.lastState?.terminated;
    if (t && t.exitCode !== 0) return { failed: `exit code ${t.exitCode}${t.reason && t.reason !== 'Error' ? ` (${t.reason})` : ''}`, container: s.name, exitCode: t.exitCode };
    if (!s.state?.terminated) return 'waiting';
  }
  return 'passed';
}
