{{/* Chart name, overridable. */}}
{{- define "readyroll.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects: the release name, prefixed with the chart name unless it already contains it. */}}
{{- define "readyroll.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of the metrics Service (also names its service-link environment variables). */}}
{{- define "readyroll.metricsServiceName" -}}
{{- printf "%s-metrics" (include "readyroll.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "readyroll.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the operator's pods; never change them on upgrade. */}}
{{- define "readyroll.selectorLabels" -}}
app.kubernetes.io/name: {{ include "readyroll.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "readyroll.labels" -}}
helm.sh/chart: {{ include "readyroll.chart" . }}
{{ include "readyroll.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "readyroll.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "readyroll.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image reference. */}}
{{- define "readyroll.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The image App pods copy /readyroll-shim from: the operator image unless set. */}}
{{- define "readyroll.shimImage" -}}
{{- default (include "readyroll.image" .) .Values.shimImage }}
{{- end }}

{{/* "true" when replicas must elect a leader. */}}
{{- define "readyroll.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicas) 1) }}true{{ end }}
{{- end }}

{{/* Security contexts shared by the operator and the test pod (values securityContext, podSecurityContext). */}}
{{- define "readyroll.containerSecurityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}

{{- define "readyroll.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{/* Cluster-scoped objects are named after the release and its namespace: two releases never collide. */}}
{{- define "readyroll.clusterRoleName" -}}
{{- printf "%s-%s" (include "readyroll.fullname" .) .Release.Namespace }}
{{- end }}

{{/* Labels of the CRD: it outlives releases, so no selector-like instance label. */}}
{{- define "readyroll.crdLabels" -}}
helm.sh/chart: {{ include "readyroll.chart" . }}
app.kubernetes.io/name: {{ include "readyroll.name" . }}
app.kubernetes.io/component: crd
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Reads of cluster-scoped objects, needed whatever the operator watches:
nodes give the schedulable CPUs of `instances: max` / -N.
*/}}
{{- define "readyroll.clusterRules" -}}
- apiGroups: [""]
  resources: ["nodes"]
  verbs: ["get", "list", "watch"]
{{- end }}

{{/*
Rights on namespaced objects: cluster-wide when every namespace is watched,
a Role in watchNamespace otherwise. Apps are read and get status; their
Deployments, Services and PodDisruptionBudgets are written; pods are read
(restarts) and annotated (instance index, deletion cost); ReplicaSets are
read (rollback targets).
*/}}
{{- define "readyroll.namespacedRules" -}}
- apiGroups: ["readyroll.dev"]
  resources: ["apps"]
  verbs: ["get", "list", "watch"]
# Status is written with server-side apply.
- apiGroups: ["readyroll.dev"]
  resources: ["apps/status"]
  verbs: ["patch"]
# Owner references with blockOwnerDeletion need this where the
# OwnerReferencesPermissionEnforcement admission plugin is enabled.
- apiGroups: ["readyroll.dev"]
  resources: ["apps/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "patch", "watch"]
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["get", "list", "watch"]
# The last good pod template of each App, saved so a rollback outlives a
# deleted Deployment, and the spec of each revision in status.history (for
# `readyroll rollback`); read one at a time, and watched (metadata only) to
# know when a remembered one changed.
- apiGroups: ["apps"]
  resources: ["controllerrevisions"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
{{- end }}
