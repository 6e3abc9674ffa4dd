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

{{/* Security context shared by the operator and the test pod: nothing but the binary, as nobody. */}}
{{- define "readyroll.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "readyroll.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}
