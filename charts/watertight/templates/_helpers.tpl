{{/* Names. */}}
{{- define "watertight.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "watertight.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "watertight.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "watertight.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: watertight
watertight.io/site: {{ .Values.site }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "router"). */}}
{{- define "watertight.selectorLabels" -}}
app.kubernetes.io/name: {{ include "watertight.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "watertight.image" -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
{{- end -}}

{{- define "watertight.tokenSecretName" -}}
{{- default (printf "%s-admin-token" (include "watertight.fullname" .)) .Values.adminToken.existingSecret -}}
{{- end -}}

{{- define "watertight.credentialsSecretName" -}}
{{- default (printf "%s-credentials" (include "watertight.fullname" .)) .Values.credentials.existingSecret -}}
{{- end -}}

{{/*
"roles": per-role files from credentials.existingSecret (or a generated one); "shared":
the one-token development shortcut from adminToken; "" when neither is configured.
*/}}
{{- define "watertight.credentialsMode" -}}
{{- if .Values.credentials.existingSecret -}}roles
{{- else if .Values.adminToken.existingSecret -}}shared
{{- else if .Values.credentials.generate -}}roles
{{- else if .Values.adminToken.generate -}}shared
{{- end -}}
{{- end -}}

{{/* The credential variable of a unit or controller container. */}}
{{- define "watertight.credentialsEnv" -}}
{{- if eq (include "watertight.credentialsMode" .) "roles" -}}
- name: WATERTIGHT_CREDENTIALS_DIR
  value: /var/run/secrets/watertight/credentials
{{- else -}}
- name: WATERTIGHT_TOKEN_FILE
  value: /var/run/secrets/watertight/token
{{- end -}}
{{- end -}}

{{/* Local etcd client URL first, then the other sites' members (JSON list). */}}
{{- define "watertight.etcdEndpoints" -}}
{{- $list := list (include "watertight.localEtcdUrl" .) -}}
{{- range $site := keys .Values.peerSites | sortAlpha -}}
{{- $list = append $list (get $.Values.peerSites $site).etcdClientUrl -}}
{{- end -}}
{{- toJson $list -}}
{{- end -}}

{{/* Site names of the topology, in topology order (JSON list; fromJsonArray to use). */}}
{{- define "watertight.siteNames" -}}
{{- $names := list -}}
{{- range .Values.topology.sites -}}{{- $names = append $names .name -}}{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/*
Role of a unit's instance at deploy time in this site: (dict "unit" u "site" s).
Every site holds an instance of every unit (quorum commit: a standby in each site other
than the primary's), so this is "primary" in the unit's first primary site and "standby"
everywhere else.
*/}}
{{- define "watertight.roleAtDeploy" -}}
{{- if eq .unit.primary .site -}}primary{{- else -}}standby{{- end -}}
{{- end -}}

{{/* URL of a unit's instance in a peer site: (dict "peer" p "unit" name "index" i "root" $). */}}
{{- define "watertight.peerUnitUrl" -}}
{{- $nodePort := add .root.Values.units.service.nodePortBase .index -}}
{{- .peer.unitUrlTemplate | replace "{unit}" .unit | replace "{nodePort}" (toString $nodePort) -}}
{{- end -}}

{{/*
Scheme of every site-to-site address the chart builds itself (in-cluster Service names,
etcd listen and advertise defaults): with tls.enabled the unit, controller and etcd
listeners speak only TLS, so an http:// address of theirs could never be answered. The
addresses given in values (peerSites, *.advertise*Url) are not rewritten: _validate.tpl
refuses a plain one, so what the values say is what the programs dial.
*/}}
{{- define "watertight.scheme" -}}
{{- if .Values.tls.enabled -}}https{{- else -}}http{{- end -}}
{{- end -}}

{{/* In-cluster URL of this release's etcd client Service. */}}
{{- define "watertight.localEtcdUrl" -}}
{{- printf "%s://%s-etcd.%s.svc:%d" (include "watertight.scheme" .) (include "watertight.fullname" .) .Release.Namespace (int .Values.etcd.clientPort) -}}
{{- end -}}

{{/* URL of this site's controller as the other sites and operators reach it. */}}
{{- define "watertight.controllerUrl" -}}
{{- .Values.controller.advertiseUrl | default (printf "%s://%s-controller.%s.svc:%d" (include "watertight.scheme" .) (include "watertight.fullname" .) .Release.Namespace (int .Values.controller.port)) -}}
{{- end -}}

{{/*
The address map of this site (JSON, mounted as /etc/watertight/addresses.json): every
unit instance, every etcd member and every controller as reached FROM this site. The
router reads its "units" (WATERTIGHT_ADDRESS_MAP); the controller and the observer read
all three (WATERTIGHT_ADDRESSES, failover/observer/addresses.py).
*/}}
{{- define "watertight.addresses" -}}
{{- $root := . -}}
{{- $fullname := include "watertight.fullname" . -}}
{{- $units := dict -}}
{{- range $i, $u := .Values.topology.units -}}
{{- $bySite := dict -}}
{{- range $s := include "watertight.siteNames" $root | fromJsonArray -}}
{{- if eq $s $root.Values.site -}}
{{- $_ := set $bySite $s (printf "%s://%s-unit-%s.%s.svc:%d" (include "watertight.scheme" $root) $fullname $u.name $root.Release.Namespace (int $root.Values.units.port)) -}}
{{- else if hasKey $root.Values.peerSites $s -}}
{{- $_ := set $bySite $s (include "watertight.peerUnitUrl" (dict "peer" (get $root.Values.peerSites $s) "unit" $u.name "index" $i "root" $root)) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $units $u.name $bySite -}}
{{- end -}}
{{- $etcd := dict .Values.site (include "watertight.localEtcdUrl" .) -}}
{{- $controllers := dict .Values.site (include "watertight.controllerUrl" .) -}}
{{- range $site, $peer := .Values.peerSites -}}
{{- $_ := set $etcd $site $peer.etcdClientUrl -}}
{{- $_ := set $controllers $site $peer.controllerUrl -}}
{{- end -}}
{{- dict "units" $units "etcd" $etcd "controllers" $controllers | toPrettyJson -}}
{{- end -}}

{{- define "watertight.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.runAsUser }}
runAsGroup: {{ .Values.podSecurity.runAsGroup }}
fsGroup: {{ .Values.podSecurity.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "watertight.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/*
Volumes of a watertight pod: (dict "root" $ "addresses" bool "roles" list).
"config" is /etc/watertight: the topology file (every program) and, for the router,
controller and observer, the site's address map; with tls.enabled also tls_probe.py.
"credentials" holds only the keys in "roles" (units: replication, admin; controller:
admin, operator, approvers; others: none); with the shortcut, "admin-token" holds the one
token. "tls" (tls.enabled) is the site's certificate. "tmp" because the root is read-only.
*/}}
{{- define "watertight.volumes" -}}
{{- $fullname := include "watertight.fullname" .root -}}
- name: config
  projected:
    sources:
      - configMap:
          name: {{ $fullname }}-topology
      {{- if .addresses }}
      - configMap:
          name: {{ $fullname }}-addresses
      {{- end }}
      {{- if .root.Values.tls.enabled }}
      - configMap:
          name: {{ $fullname }}-tls-probe
      {{- end }}
{{- if .root.Values.tls.enabled }}
{{ include "watertight.tlsVolume" .root }}
{{- end }}
{{- if and .roles (eq (include "watertight.credentialsMode" .root) "roles") }}
- name: credentials
  secret:
    secretName: {{ include "watertight.credentialsSecretName" .root }}
    defaultMode: 0440
    items:
      {{- range .roles }}
      - key: {{ . }}
        path: {{ . }}
      {{- end }}
{{- else if .roles }}
- name: admin-token
  secret:
    secretName: {{ include "watertight.tokenSecretName" .root }}
    defaultMode: 0440
    items:
      - key: {{ .root.Values.adminToken.key }}
        path: token
{{- end }}
- name: tmp
  emptyDir: {}
{{- end -}}

{{/* Mounts of the volumes above: (dict "root" $ "roles" list). No subPath: a Secret
mounted whole is updated in place, which is how a rotation reaches the processes. */}}
{{- define "watertight.mounts" -}}
- name: config
  mountPath: /etc/watertight
  readOnly: true
{{- if .root.Values.tls.enabled }}
{{ include "watertight.tlsMount" .root }}
{{- end }}
{{- if and .roles (eq (include "watertight.credentialsMode" .root) "roles") }}
- name: credentials
  mountPath: /var/run/secrets/watertight/credentials
  readOnly: true
{{- else if .roles }}
- name: admin-token
  mountPath: /var/run/secrets/watertight
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Pod annotations that roll a workload when its configuration changes. */}}
{{- define "watertight.configChecksums" -}}
checksum/topology: {{ toJson .Values.topology | sha256sum }}
checksum/addresses: {{ include "watertight.addresses" . | sha256sum }}
{{- end -}}

{{/*
Mutual TLS between sites (tls.enabled): the site's kubernetes.io/tls Secret, with the
CA's certificate under ca.crt as cert-manager writes it, is the TLS directory every
watertight program reads (WATERTIGHT_TLS_DIR, failover/tls.py) and the etcd member's
certificate. The keys are listed, so a Secret without ca.crt stops the pod at the kubelet
with the key's name instead of starting a process that cannot verify anyone. Mounted
whole (no subPath): a renewed certificate reaches the files in place. The mount sits
inside the read-only /etc/watertight volume; the kubelet creates nested mount points in
API data volumes itself.
*/}}
{{- define "watertight.tlsDir" -}}/etc/watertight/tls{{- end -}}

{{- define "watertight.tlsVolume" -}}
- name: tls
  secret:
    secretName: {{ .Values.tls.secretName }}
    defaultMode: 0440
    items:
      - {key: ca.crt, path: ca.crt}
      - {key: tls.crt, path: tls.crt}
      - {key: tls.key, path: tls.key}
{{- end -}}

{{- define "watertight.tlsMount" -}}
- name: tls
  mountPath: {{ include "watertight.tlsDir" . }}
  readOnly: true
{{- end -}}

{{/*
What a probe of a listener does: (dict "root" $ "port" number "portName" name "path" path).
Plain: the kubelet's httpGet. With tls.enabled the unit, controller and etcd listeners
refuse a client without a certificate from the site CA, and the kubelet cannot present
one (httpGet with scheme HTTPS has no client certificate), so the probe is an exec of
files/tls_probe.py: the same GET from inside the container over loopback, presenting the
pod's own certificate. Not tcpSocket: the kernel completes a TCP handshake into the
listen backlog even while the process is wedged, so a socket check would keep a hung
unit alive and call a unit whose database does not answer ready.
*/}}
{{- define "watertight.probeAction" -}}
{{- if .root.Values.tls.enabled -}}
exec:
  command: ["python", "/etc/watertight/tls_probe.py", {{ include "watertight.tlsDir" .root | quote }}, {{ .port | toString | quote }}, {{ .path | quote }}]
{{- else -}}
httpGet: {path: {{ .path }}, port: {{ .portName }}}
{{- end -}}
{{- end -}}

{{/* A probe's timeoutSeconds: (dict "root" $ "seconds" n). An exec probe starts a Python
interpreter before it connects (about 0.1 s of CPU), so it gets at least 3 s: a slow
start on a busy node must not read as a failed unit. */}}
{{- define "watertight.probeTimeout" -}}
{{- if .root.Values.tls.enabled -}}{{ max .seconds 3 }}{{- else -}}{{ .seconds }}{{- end -}}
{{- end -}}
