{{/* Chart name, truncated to 63 characters. */}}
{{- define "flsailer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name; room is left for the component suffixes. */}}
{{- define "flsailer.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "flsailer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "flsailer.labels" -}}
helm.sh/chart: {{ include "flsailer.chart" . }}
{{ include "flsailer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: flsailer
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "flsailer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flsailer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "coordinator"). */}}
{{- define "flsailer.componentSelectorLabels" -}}
{{ include "flsailer.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "flsailer.componentLabels" -}}
{{ include "flsailer.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Selector labels of one institution's client: (dict "root" $ "id" "hospital-a"). */}}
{{- define "flsailer.clientSelectorLabels" -}}
{{ include "flsailer.componentSelectorLabels" (dict "root" .root "component" "client") }}
flsailer.io/institution: {{ .id }}
{{- end -}}

{{- define "flsailer.command" -}}
command:
  {{- toYaml .Values.image.command | nindent 2 }}
{{- end -}}

{{- define "flsailer.image" -}}
{{- printf "%s:%s" .Values.image.repository (toString .Values.image.tag) -}}
{{- end -}}

{{- define "flsailer.coordinatorName" -}}{{ include "flsailer.fullname" . }}-coordinator{{- end -}}
{{- define "flsailer.aggregatorName" -}}{{ include "flsailer.fullname" . }}-aggregator{{- end -}}

{{/* The aggregator address handed to the coordinator (and by it to the clients). */}}
{{- define "flsailer.aggregatorAddress" -}}
{{- if .Values.coordinator.aggregatorAddress -}}
{{- .Values.coordinator.aggregatorAddress -}}
{{- else -}}
{{- printf "%s:%d" (include "flsailer.aggregatorName" .) (int .Values.aggregator.ports.grpc) -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding a server's certificate: (dict "root" $ "component" "coordinator"). */}}
{{- define "flsailer.serverTlsSecret" -}}
{{- $values := index .root.Values .component -}}
{{- if eq .root.Values.tls.source "certManager" -}}
{{- default (printf "%s-%s-tls" (include "flsailer.fullname" .root) .component) $values.tls.certificateSecretName -}}
{{- else -}}
{{- required (printf "%s.tls.existingSecret is required with tls.source=secrets" .component) $values.tls.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding an institution's certificate: (dict "root" $ "inst" $institution). */}}
{{- define "flsailer.clientTlsSecret" -}}
{{- $tls := default dict .inst.tls -}}
{{- if eq .root.Values.tls.source "certManager" -}}
{{- default (printf "%s-%s-tls" (include "flsailer.fullname" .root) .inst.id) $tls.certificateSecretName -}}
{{- else -}}
{{- required (printf "institutions[%s].tls.existingSecret is required with tls.source=secrets" .inst.id) $tls.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* --ca/--cert/--key of a container whose certificate Secret is mounted at tls.mountPath. */}}
{{- define "flsailer.tlsArgs" -}}
- --ca
- {{ .Values.tls.mountPath }}/ca.crt
- --cert
- {{ .Values.tls.mountPath }}/tls.crt
- --key
- {{ .Values.tls.mountPath }}/tls.key
{{- end -}}

{{/* Pod-level settings shared by every workload: (dict "root" $ "values" $componentValues). */}}
{{- define "flsailer.podSpecCommon" -}}
{{- $root := .root -}}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- if $root.Values.hostNetwork }}
hostNetwork: true
dnsPolicy: ClusterFirstWithHostNet
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Volumes every workload has: the certificate Secret and /tmp. (dict "root" $ "secret" NAME) */}}
{{- define "flsailer.commonVolumes" -}}
- name: tls
  secret:
    secretName: {{ .secret }}
    defaultMode: 0440           # keys ca.crt, tls.crt, tls.key; rotated files are picked up
    optional: false             # the default, spelled out: podman 4.3's kube play needs it
- name: tmp
  emptyDir:
    sizeLimit: {{ .root.Values.tmpSizeLimit }}
{{- end -}}

{{- define "flsailer.commonVolumeMounts" -}}
- name: tls
  mountPath: {{ .Values.tls.mountPath }}
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "flsailer.commonEnv" -}}
- name: HOME
  value: /tmp
- name: TMPDIR
  value: /tmp
{{- end -}}

{{/* The address a probe inside the pod dials for a service bound to `.`: loopback for a wildcard. */}}
{{- define "flsailer.probeHost" -}}
{{- ternary "127.0.0.1" . (or (eq . "0.0.0.0") (eq . "::")) -}}
{{- end -}}

{{/*
One probe running `flsailer health ARGS...` in the container; the kubelet's own grpc and httpGet
probes cannot present a client certificate, and podman's httpGet needs curl in the image.
(dict "root" $ "kind" "startup|readiness|liveness" "args" (list ...))
*/}}
{{- define "flsailer.healthProbe" -}}
{{- $timing := index .root.Values.probes .kind -}}
{{ .kind }}Probe:
  exec:
    command:
      {{- toYaml .root.Values.image.command | nindent 6 }}
      - health
      {{- range .args }}
      - {{ . | quote }}
      {{- end }}
      - --timeout-ms
      - {{ sub (mul (default 1 $timing.timeoutSeconds) 1000) 200 | max 500 | quote }}
  {{- toYaml $timing | nindent 2 }}
{{- end -}}

{{/*
Startup, readiness and liveness probes of a server: gRPC health over mutual TLS with the pod's own
certificate, dialling the gRPC port on loopback (or the bind address, when that is one address)
and verifying the certificate against tls.probeServerName, by default the Service name that
cert-manager certificates carry. (dict "root" $ "values" $componentValues "name" $serviceName)
*/}}
{{- define "flsailer.healthProbes" -}}
{{- $address := printf "%s:%d" (include "flsailer.probeHost" .values.bindAddress) (int .values.ports.grpc) -}}
{{- $args := list "--address" $address "--server-name" (default .name .values.tls.probeServerName) "--tls-dir" .root.Values.tls.mountPath -}}
{{- range $kind := list "startup" "readiness" "liveness" }}
{{ include "flsailer.healthProbe" (dict "root" $.root "kind" $kind "args" $args) }}
{{- end }}
{{- end -}}

{{/* The cert-manager Certificate spec common to every identity. */}}
{{- define "flsailer.certificateCommon" -}}
duration: {{ .Values.tls.certManager.duration }}
renewBefore: {{ .Values.tls.certManager.renewBefore }}
privateKey:
  algorithm: ECDSA
  size: 256
  encoding: PKCS8
  rotationPolicy: Always
issuerRef:
  {{- toYaml .Values.tls.certManager.issuerRef | nindent 2 }}
{{- end -}}
