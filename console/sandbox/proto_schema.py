"""Message schemas for the Kubernetes protobuf wire format, transcribed from the field numbers
of the API's generated.proto files and the json/protobuf tags of the Go types they come from
(k8s.io/apimachinery meta/v1, k8s.io/api core/v1, apps/v1, batch/v1, networking/v1,
autoscaling/v1 and v2, policy/v1, storage/v1, rbac/v1, authorization/v1, authentication/v1).

One message a line (indented lines continue it): `Name = jsonName number type, ...`. Types:
  s string, b bool, i int32/int64, y bytes (base64 in JSON), time metav1.Time (RFC 3339 seconds),
  mtime metav1.MicroTime, q resource.Quantity, ios intstr.IntOrString, raw runtime.RawExtension
  (JSON in JSON), fields metav1.FieldsV1 (JSON in JSON), {T} a map of strings to T, []T repeated,
  or another message. `*T`: the zero value counts (a Go pointer, or a field without omitempty),
  so it is kept when decoding; other zero scalars are dropped, as Go's JSON encoder would.
  `~name`: an embedded Go struct, a message on the wire but inlined in JSON.
`Name = Other` reuses Other's fields. Fields the sandbox never stores (exotic volume plugins
included) are listed all the same, so nothing a client sends is lost on the way in. The core/v1
file read was a 1.30-era one; fields added since that the sandbox meets (PodSpec.resources 40,
ServiceSpec.trafficDistribution 23, VolumeSource.image 30, VolumeMount.recursiveReadOnly 7,
ContainerStatus.volumeMounts 12, JobSpec.managedBy 15 and successPolicy 16) carry their later numbers."""

from dataclasses import dataclass

SCHEMA = """
# meta/v1 (k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto)
ObjectMeta = name 1 s, generateName 2 s, namespace 3 s, selfLink 4 s, uid 5 s, resourceVersion 6 s, generation 7 i,
    creationTimestamp 8 time, deletionTimestamp 9 time, deletionGracePeriodSeconds 10 *i, labels 11 {s},
    annotations 12 {s}, ownerReferences 13 []OwnerReference, finalizers 14 []s, managedFields 17 []ManagedFieldsEntry
ListMeta = selfLink 1 s, resourceVersion 2 s, continue 3 s, remainingItemCount 4 *i
LabelSelector = matchLabels 1 {s}, matchExpressions 2 []LabelSelectorRequirement
LabelSelectorRequirement = key 1 *s, operator 2 *s, values 3 []s
OwnerReference = apiVersion 5 *s, kind 1 *s, name 3 *s, uid 4 *s, controller 6 *b, blockOwnerDeletion 7 *b
ManagedFieldsEntry = manager 1 s, operation 2 s, apiVersion 3 s, time 4 time, fieldsType 6 s, fieldsV1 7 fields,
    subresource 8 s
Condition = type 1 *s, status 2 *s, observedGeneration 3 i, lastTransitionTime 4 time, reason 5 *s, message 6 *s
Status = metadata 1 ListMeta, status 2 s, message 3 s, reason 4 s, details 5 StatusDetails, code 6 i
StatusDetails = name 1 s, group 2 s, kind 3 s, uid 6 s, causes 4 []StatusCause, retryAfterSeconds 5 i
StatusCause = reason 1 s, message 2 s, field 3 s
DeleteOptions = gracePeriodSeconds 1 *i, preconditions 2 Preconditions, orphanDependents 3 *b, propagationPolicy 4 *s,
    dryRun 5 []s, ignoreStoreReadErrorWithClusterBreakingPotential 6 *b
Preconditions = uid 1 *s, resourceVersion 2 *s
# core/v1 (from staging/src/k8s.io/api/core/v1/types.go)
Volume = name 1 *s, ~volumeSource 2 VolumeSource
VolumeSource = hostPath 1 HostPathVolumeSource, emptyDir 2 EmptyDirVolumeSource,
    gcePersistentDisk 3 GCEPersistentDiskVolumeSource, awsElasticBlockStore 4 AWSElasticBlockStoreVolumeSource,
    gitRepo 5 GitRepoVolumeSource, secret 6 SecretVolumeSource, nfs 7 NFSVolumeSource, iscsi 8 ISCSIVolumeSource,
    glusterfs 9 GlusterfsVolumeSource, persistentVolumeClaim 10 PersistentVolumeClaimVolumeSource,
    rbd 11 RBDVolumeSource, flexVolume 12 FlexVolumeSource, cinder 13 CinderVolumeSource, cephfs 14 CephFSVolumeSource,
    flocker 15 FlockerVolumeSource, downwardAPI 16 DownwardAPIVolumeSource, fc 17 FCVolumeSource,
    azureFile 18 AzureFileVolumeSource, configMap 19 ConfigMapVolumeSource,
    vsphereVolume 20 VsphereVirtualDiskVolumeSource, quobyte 21 QuobyteVolumeSource,
    azureDisk 22 AzureDiskVolumeSource, photonPersistentDisk 23 PhotonPersistentDiskVolumeSource,
    portworxVolume 24 PortworxVolumeSource, scaleIO 25 ScaleIOVolumeSource, projected 26 ProjectedVolumeSource,
    storageos 27 StorageOSVolumeSource, csi 28 CSIVolumeSource, ephemeral 29 EphemeralVolumeSource,
    image 30 ImageVolumeSource
ImageVolumeSource = reference 1 s, pullPolicy 2 s
PersistentVolumeClaimVolumeSource = claimName 1 *s, readOnly 2 b
PersistentVolumeSource = gcePersistentDisk 1 GCEPersistentDiskVolumeSource,
    awsElasticBlockStore 2 AWSElasticBlockStoreVolumeSource, hostPath 3 HostPathVolumeSource,
    glusterfs 4 GlusterfsPersistentVolumeSource, nfs 5 NFSVolumeSource, rbd 6 RBDPersistentVolumeSource,
    iscsi 7 ISCSIPersistentVolumeSource, cinder 8 CinderPersistentVolumeSource, cephfs 9 CephFSPersistentVolumeSource,
    fc 10 FCVolumeSource, flocker 11 FlockerVolumeSource, flexVolume 12 FlexPersistentVolumeSource,
    azureFile 13 AzureFilePersistentVolumeSource, vsphereVolume 14 VsphereVirtualDiskVolumeSource,
    quobyte 15 QuobyteVolumeSource, azureDisk 16 AzureDiskVolumeSource,
    photonPersistentDisk 17 PhotonPersistentDiskVolumeSource, portworxVolume 18 PortworxVolumeSource,
    scaleIO 19 ScaleIOPersistentVolumeSource, local 20 LocalVolumeSource, storageos 21 StorageOSPersistentVolumeSource,
    csi 22 CSIPersistentVolumeSource
PersistentVolume = metadata 1 ObjectMeta, spec 2 PersistentVolumeSpec, status 3 PersistentVolumeStatus
PersistentVolumeSpec = capacity 1 {q}, ~persistentVolumeSource 2 PersistentVolumeSource, accessModes 3 []s,
    claimRef 4 ObjectReference, persistentVolumeReclaimPolicy 5 s, storageClassName 6 s, mountOptions 7 []s,
    volumeMode 8 *s, nodeAffinity 9 VolumeNodeAffinity, volumeAttributesClassName 10 *s
VolumeNodeAffinity = required 1 NodeSelector
PersistentVolumeStatus = phase 1 s, message 2 s, reason 3 s, lastPhaseTransitionTime 4 time
PersistentVolumeClaim = metadata 1 ObjectMeta, spec 2 PersistentVolumeClaimSpec, status 3 PersistentVolumeClaimStatus
PersistentVolumeClaimSpec = accessModes 1 []s, selector 4 LabelSelector, resources 2 VolumeResourceRequirements,
    volumeName 3 s, storageClassName 5 *s, volumeMode 6 *s, dataSource 7 TypedLocalObjectReference,
    dataSourceRef 8 TypedObjectReference, volumeAttributesClassName 9 *s
TypedObjectReference = apiGroup 1 *s, kind 2 *s, name 3 *s, namespace 4 *s
ModifyVolumeStatus = targetVolumeAttributesClassName 1 s, status 2 *s
PersistentVolumeClaimCondition = type 1 *s, status 2 *s, lastProbeTime 3 time, lastTransitionTime 4 time, reason 5 s,
    message 6 s
PersistentVolumeClaimStatus = phase 1 s, accessModes 2 []s, capacity 3 {q},
    conditions 4 []PersistentVolumeClaimCondition, allocatedResources 5 {q}, allocatedResourceStatuses 7 {s},
    currentVolumeAttributesClassName 8 *s, modifyVolumeStatus 9 ModifyVolumeStatus
HostPathVolumeSource = path 1 *s, type 2 *s
EmptyDirVolumeSource = medium 1 s, sizeLimit 2 q
GlusterfsVolumeSource = endpoints 1 *s, path 2 *s, readOnly 3 b
GlusterfsPersistentVolumeSource = endpoints 1 *s, path 2 *s, readOnly 3 b, endpointsNamespace 4 *s
RBDVolumeSource = monitors 1 []s, image 2 *s, fsType 3 s, pool 4 s, user 5 s, keyring 6 s,
    secretRef 7 LocalObjectReference, readOnly 8 b
RBDPersistentVolumeSource = monitors 1 []s, image 2 *s, fsType 3 s, pool 4 s, user 5 s, keyring 6 s,
    secretRef 7 SecretReference, readOnly 8 b
CinderVolumeSource = volumeID 1 *s, fsType 2 s, readOnly 3 b, secretRef 4 LocalObjectReference
CinderPersistentVolumeSource = volumeID 1 *s, fsType 2 s, readOnly 3 b, secretRef 4 SecretReference
CephFSVolumeSource = monitors 1 []s, path 2 s, user 3 s, secretFile 4 s, secretRef 5 LocalObjectReference,
    readOnly 6 b
SecretReference = name 1 s, namespace 2 s
CephFSPersistentVolumeSource = monitors 1 []s, path 2 s, user 3 s, secretFile 4 s, secretRef 5 SecretReference,
    readOnly 6 b
FlockerVolumeSource = datasetName 1 s, datasetUUID 2 s
GCEPersistentDiskVolumeSource = pdName 1 *s, fsType 2 s, partition 3 i, readOnly 4 b
QuobyteVolumeSource = registry 1 *s, volume 2 *s, readOnly 3 b, user 4 s, group 5 s, tenant 6 s
FlexPersistentVolumeSource = driver 1 *s, fsType 2 s, secretRef 3 SecretReference, readOnly 4 b, options 5 {s}
FlexVolumeSource = driver 1 *s, fsType 2 s, secretRef 3 LocalObjectReference, readOnly 4 b, options 5 {s}
AWSElasticBlockStoreVolumeSource = volumeID 1 *s, fsType 2 s, partition 3 i, readOnly 4 b
GitRepoVolumeSource = repository 1 *s, revision 2 s, directory 3 s
SecretVolumeSource = secretName 1 s, items 2 []KeyToPath, defaultMode 3 *i, optional 4 *b
SecretProjection = ~localObjectReference 1 LocalObjectReference, items 2 []KeyToPath, optional 4 *b
NFSVolumeSource = server 1 *s, path 2 *s, readOnly 3 b
ISCSIVolumeSource = targetPortal 1 *s, iqn 2 *s, lun 3 *i, iscsiInterface 4 s, fsType 5 s, readOnly 6 b, portals 7 []s,
    chapAuthDiscovery 8 b, chapAuthSession 11 b, secretRef 10 LocalObjectReference, initiatorName 12 *s
ISCSIPersistentVolumeSource = targetPortal 1 *s, iqn 2 *s, lun 3 *i, iscsiInterface 4 s, fsType 5 s, readOnly 6 b,
    portals 7 []s, chapAuthDiscovery 8 b, chapAuthSession 11 b, secretRef 10 SecretReference, initiatorName 12 *s
FCVolumeSource = targetWWNs 1 []s, lun 2 *i, fsType 3 s, readOnly 4 b, wwids 5 []s
AzureFileVolumeSource = secretName 1 *s, shareName 2 *s, readOnly 3 b
AzureFilePersistentVolumeSource = secretName 1 *s, shareName 2 *s, readOnly 3 b, secretNamespace 4 *s
VsphereVirtualDiskVolumeSource = volumePath 1 *s, fsType 2 s, storagePolicyName 3 s, storagePolicyID 4 s
PhotonPersistentDiskVolumeSource = pdID 1 *s, fsType 2 s
AzureDiskVolumeSource = diskName 1 *s, diskURI 2 *s, cachingMode 3 *s, fsType 4 *s, readOnly 5 *b, kind 6 *s
PortworxVolumeSource = volumeID 1 *s, fsType 2 s, readOnly 3 b
ScaleIOVolumeSource = gateway 1 *s, system 2 *s, secretRef 3 LocalObjectReference, sslEnabled 4 b,
    protectionDomain 5 s, storagePool 6 s, storageMode 7 s, volumeName 8 s, fsType 9 s, readOnly 10 b
ScaleIOPersistentVolumeSource = gateway 1 *s, system 2 *s, secretRef 3 SecretReference, sslEnabled 4 b,
    protectionDomain 5 s, storagePool 6 s, storageMode 7 s, volumeName 8 s, fsType 9 s, readOnly 10 b
StorageOSVolumeSource = volumeName 1 s, volumeNamespace 2 s, fsType 3 s, readOnly 4 b,
    secretRef 5 LocalObjectReference
StorageOSPersistentVolumeSource = volumeName 1 s, volumeNamespace 2 s, fsType 3 s, readOnly 4 b,
    secretRef 5 ObjectReference
ConfigMapVolumeSource = ~localObjectReference 1 LocalObjectReference, items 2 []KeyToPath, defaultMode 3 *i,
    optional 4 *b
ConfigMapProjection = ~localObjectReference 1 LocalObjectReference, items 2 []KeyToPath, optional 4 *b
ServiceAccountTokenProjection = audience 1 s, expirationSeconds 2 *i, path 3 *s
ClusterTrustBundleProjection = name 1 *s, signerName 2 *s, labelSelector 3 LabelSelector, optional 5 *b, path 4 *s
ProjectedVolumeSource = sources 1 []VolumeProjection, defaultMode 2 *i
VolumeProjection = secret 1 SecretProjection, downwardAPI 2 DownwardAPIProjection, configMap 3 ConfigMapProjection,
    serviceAccountToken 4 ServiceAccountTokenProjection, clusterTrustBundle 5 ClusterTrustBundleProjection
KeyToPath = key 1 *s, path 2 *s, mode 3 *i
LocalVolumeSource = path 1 *s, fsType 2 *s
CSIPersistentVolumeSource = driver 1 *s, volumeHandle 2 *s, readOnly 3 b, fsType 4 s, volumeAttributes 5 {s},
    controllerPublishSecretRef 6 SecretReference, nodeStageSecretRef 7 SecretReference,
    nodePublishSecretRef 8 SecretReference, controllerExpandSecretRef 9 SecretReference,
    nodeExpandSecretRef 10 SecretReference
CSIVolumeSource = driver 1 *s, readOnly 2 *b, fsType 3 *s, volumeAttributes 4 {s},
    nodePublishSecretRef 5 LocalObjectReference
EphemeralVolumeSource = volumeClaimTemplate 1 PersistentVolumeClaimTemplate
PersistentVolumeClaimTemplate = metadata 1 ObjectMeta, spec 2 PersistentVolumeClaimSpec
ContainerPort = name 1 s, hostPort 2 i, containerPort 3 *i, protocol 4 s, hostIP 5 s
VolumeMount = name 1 *s, readOnly 2 b, mountPath 3 *s, subPath 4 s, mountPropagation 5 *s, subPathExpr 6 s,
    recursiveReadOnly 7 *s
VolumeMountStatus = name 1 *s, mountPath 2 *s, readOnly 3 b, recursiveReadOnly 4 *s
VolumeDevice = name 1 *s, devicePath 2 *s
EnvVar = name 1 *s, value 2 s, valueFrom 3 EnvVarSource
EnvVarSource = fieldRef 1 ObjectFieldSelector, resourceFieldRef 2 ResourceFieldSelector,
    configMapKeyRef 3 ConfigMapKeySelector, secretKeyRef 4 SecretKeySelector
ObjectFieldSelector = apiVersion 1 s, fieldPath 2 *s
ResourceFieldSelector = containerName 1 s, resource 2 *s, divisor 3 q
ConfigMapKeySelector = ~localObjectReference 1 LocalObjectReference, key 2 *s, optional 3 *b
SecretKeySelector = ~localObjectReference 1 LocalObjectReference, key 2 *s, optional 3 *b
EnvFromSource = prefix 1 s, configMapRef 2 ConfigMapEnvSource, secretRef 3 SecretEnvSource
ConfigMapEnvSource = ~localObjectReference 1 LocalObjectReference, optional 2 *b
SecretEnvSource = ~localObjectReference 1 LocalObjectReference, optional 2 *b
HTTPHeader = name 1 *s, value 2 *s
HTTPGetAction = path 1 s, port 2 *ios, host 3 s, scheme 4 s, httpHeaders 5 []HTTPHeader
TCPSocketAction = port 1 *ios, host 2 s
GRPCAction = port 1 *i, service 2 *s
ExecAction = command 1 []s
SleepAction = seconds 1 *i
Probe = ~handler 1 ProbeHandler, initialDelaySeconds 2 i, timeoutSeconds 3 i, periodSeconds 4 i, successThreshold 5 i,
    failureThreshold 6 i, terminationGracePeriodSeconds 7 *i
ContainerResizePolicy = resourceName 1 *s, restartPolicy 2 *s
Capabilities = add 1 []s, drop 2 []s
ResourceRequirements = limits 1 {q}, requests 2 {q}, claims 3 []ResourceClaim
VolumeResourceRequirements = limits 1 {q}, requests 2 {q}
ResourceClaim = name 1 *s
Container = name 1 *s, image 2 s, command 3 []s, args 4 []s, workingDir 5 s, ports 6 []ContainerPort,
    envFrom 19 []EnvFromSource, env 7 []EnvVar, resources 8 ResourceRequirements,
    resizePolicy 23 []ContainerResizePolicy, restartPolicy 24 *s, volumeMounts 9 []VolumeMount,
    volumeDevices 21 []VolumeDevice, livenessProbe 10 Probe, readinessProbe 11 Probe, startupProbe 22 Probe,
    lifecycle 12 Lifecycle, terminationMessagePath 13 s, terminationMessagePolicy 20 s, imagePullPolicy 14 s,
    securityContext 15 SecurityContext, stdin 16 b, stdinOnce 17 b, tty 18 b
ProbeHandler = exec 1 ExecAction, httpGet 2 HTTPGetAction, tcpSocket 3 TCPSocketAction, grpc 4 GRPCAction
LifecycleHandler = exec 1 ExecAction, httpGet 2 HTTPGetAction, tcpSocket 3 TCPSocketAction, sleep 4 SleepAction
Lifecycle = postStart 1 LifecycleHandler, preStop 2 LifecycleHandler
ContainerStateWaiting = reason 1 s, message 2 s
ContainerStateRunning = startedAt 1 time
ContainerStateTerminated = exitCode 1 *i, signal 2 i, reason 3 s, message 4 s, startedAt 5 time, finishedAt 6 time,
    containerID 7 s
ContainerState = waiting 1 ContainerStateWaiting, running 2 ContainerStateRunning,
    terminated 3 ContainerStateTerminated
ContainerStatus = name 1 *s, state 2 ContainerState, lastState 3 ContainerState, ready 4 *b, restartCount 5 *i,
    image 6 *s, imageID 7 *s, containerID 8 s, started 9 *b, allocatedResources 10 {q},
    resources 11 ResourceRequirements,
    volumeMounts 12 []VolumeMountStatus
PodCondition = type 1 *s, status 2 *s, lastProbeTime 3 time, lastTransitionTime 4 time, reason 5 s, message 6 s
NodeSelector = nodeSelectorTerms 1 []NodeSelectorTerm
NodeSelectorTerm = matchExpressions 1 []NodeSelectorRequirement, matchFields 2 []NodeSelectorRequirement
NodeSelectorRequirement = key 1 *s, operator 2 *s, values 3 []s
TopologySelectorTerm = matchLabelExpressions 1 []TopologySelectorLabelRequirement
TopologySelectorLabelRequirement = key 1 *s, values 2 []s
Affinity = nodeAffinity 1 NodeAffinity, podAffinity 2 PodAffinity, podAntiAffinity 3 PodAntiAffinity
PodAffinity = requiredDuringSchedulingIgnoredDuringExecution 1 []PodAffinityTerm,
    preferredDuringSchedulingIgnoredDuringExecution 2 []WeightedPodAffinityTerm
PodAntiAffinity = requiredDuringSchedulingIgnoredDuringExecution 1 []PodAffinityTerm,
    preferredDuringSchedulingIgnoredDuringExecution 2 []WeightedPodAffinityTerm
WeightedPodAffinityTerm = weight 1 *i, podAffinityTerm 2 PodAffinityTerm
PodAffinityTerm = labelSelector 1 LabelSelector, namespaces 2 []s, topologyKey 3 *s, namespaceSelector 4 LabelSelector,
    matchLabelKeys 5 []s, mismatchLabelKeys 6 []s
NodeAffinity = requiredDuringSchedulingIgnoredDuringExecution 1 NodeSelector,
    preferredDuringSchedulingIgnoredDuringExecution 2 []PreferredSchedulingTerm
PreferredSchedulingTerm = weight 1 *i, preference 2 NodeSelectorTerm
Taint = key 1 *s, value 2 s, effect 3 *s, timeAdded 4 time
Toleration = key 1 s, operator 2 s, value 3 s, effect 4 s, tolerationSeconds 5 *i
PodReadinessGate = conditionType 1 *s
PodSpec = volumes 1 []Volume, initContainers 20 []Container, containers 2 []Container,
    ephemeralContainers 34 []EphemeralContainer, restartPolicy 3 s, terminationGracePeriodSeconds 4 *i,
    activeDeadlineSeconds 5 *i, dnsPolicy 6 s, nodeSelector 7 {s}, serviceAccountName 8 s, serviceAccount 9 s,
    automountServiceAccountToken 21 *b, nodeName 10 s, hostNetwork 11 b, hostPID 12 b, hostIPC 13 b,
    shareProcessNamespace 27 *b, securityContext 14 PodSecurityContext, imagePullSecrets 15 []LocalObjectReference,
    hostname 16 s, subdomain 17 s, affinity 18 Affinity, schedulerName 19 s, tolerations 22 []Toleration,
    hostAliases 23 []HostAlias, priorityClassName 24 s, priority 25 *i, dnsConfig 26 PodDNSConfig,
    readinessGates 28 []PodReadinessGate, runtimeClassName 29 *s, enableServiceLinks 30 *b, preemptionPolicy 31 *s,
    overhead 32 {q}, topologySpreadConstraints 33 []TopologySpreadConstraint, setHostnameAsFQDN 35 *b, os 36 PodOS,
    hostUsers 37 *b, schedulingGates 38 []PodSchedulingGate, resourceClaims 39 []PodResourceClaim,
    resources 40 ResourceRequirements
PodResourceClaim = name 1 *s, source 2 ClaimSource
ClaimSource = resourceClaimName 1 *s, resourceClaimTemplateName 2 *s
PodResourceClaimStatus = name 1 *s, resourceClaimName 2 *s
PodOS = name 1 *s
PodSchedulingGate = name 1 *s
TopologySpreadConstraint = maxSkew 1 *i, topologyKey 2 *s, whenUnsatisfiable 3 *s, labelSelector 4 LabelSelector,
    minDomains 5 *i, nodeAffinityPolicy 6 *s, nodeTaintsPolicy 7 *s, matchLabelKeys 8 []s
HostAlias = ip 1 s, hostnames 2 []s
PodSecurityContext = seLinuxOptions 1 SELinuxOptions, windowsOptions 8 WindowsSecurityContextOptions, runAsUser 2 *i,
    runAsGroup 6 *i, runAsNonRoot 3 *b, supplementalGroups 4 []i, fsGroup 5 *i, sysctls 7 []Sysctl,
    fsGroupChangePolicy 9 *s, seccompProfile 10 SeccompProfile
SeccompProfile = type 1 *s, localhostProfile 2 *s
PodDNSConfig = nameservers 1 []s, searches 2 []s, options 3 []PodDNSConfigOption
PodDNSConfigOption = name 1 s, value 2 *s
PodIP = ip 1 s
HostIP = ip 1 s
EphemeralContainerCommon = Container
EphemeralContainer = ~ephemeralContainerCommon 1 EphemeralContainerCommon, targetContainerName 2 s
PodStatus = phase 1 s, conditions 2 []PodCondition, message 3 s, reason 4 s, nominatedNodeName 11 s, hostIP 5 s,
    hostIPs 16 []HostIP, podIP 6 s, podIPs 12 []PodIP, startTime 7 time, initContainerStatuses 10 []ContainerStatus,
    containerStatuses 8 []ContainerStatus, qosClass 9 s, ephemeralContainerStatuses 13 []ContainerStatus, resize 14 s,
    resourceClaimStatuses 15 []PodResourceClaimStatus
Pod = metadata 1 ObjectMeta, spec 2 PodSpec, status 3 PodStatus
PodTemplateSpec = metadata 1 ObjectMeta, spec 2 PodSpec
PodTemplate = metadata 1 ObjectMeta, template 2 PodTemplateSpec
ReplicationControllerSpec = replicas 1 *i, minReadySeconds 4 i, selector 2 {s}, template 3 PodTemplateSpec
ReplicationControllerStatus = replicas 1 *i, fullyLabeledReplicas 2 i, readyReplicas 4 i, availableReplicas 5 i,
    observedGeneration 3 i, conditions 6 []ReplicationControllerCondition
ReplicationControllerCondition = type 1 *s, status 2 *s, lastTransitionTime 3 time, reason 4 s, message 5 s
ReplicationController = metadata 1 ObjectMeta, spec 2 ReplicationControllerSpec, status 3 ReplicationControllerStatus
SessionAffinityConfig = clientIP 1 ClientIPConfig
ClientIPConfig = timeoutSeconds 1 *i
ServiceStatus = loadBalancer 1 LoadBalancerStatus, conditions 2 []Condition
LoadBalancerStatus = ingress 1 []LoadBalancerIngress
LoadBalancerIngress = ip 1 s, hostname 2 s, ipMode 3 *s, ports 4 []PortStatus
ServiceSpec = ports 1 []ServicePort, selector 2 {s}, clusterIP 3 s, clusterIPs 18 []s, type 4 s, externalIPs 5 []s,
    sessionAffinity 7 s, loadBalancerIP 8 s, loadBalancerSourceRanges 9 []s, externalName 10 s,
    externalTrafficPolicy 11 s, healthCheckNodePort 12 i, publishNotReadyAddresses 13 b,
    sessionAffinityConfig 14 SessionAffinityConfig, ipFamilies 19 []s, ipFamilyPolicy 17 *s,
    allocateLoadBalancerNodePorts 20 *b, loadBalancerClass 21 *s, internalTrafficPolicy 22 *s, trafficDistribution 23 *s
ServicePort = name 1 s, protocol 2 s, appProtocol 6 *s, port 3 *i, targetPort 4 ios, nodePort 5 i
Service = metadata 1 ObjectMeta, spec 2 ServiceSpec, status 3 ServiceStatus
ServiceAccount = metadata 1 ObjectMeta, secrets 2 []ObjectReference, imagePullSecrets 3 []LocalObjectReference,
    automountServiceAccountToken 4 *b
Endpoints = metadata 1 ObjectMeta, subsets 2 []EndpointSubset
EndpointSubset = addresses 1 []EndpointAddress, notReadyAddresses 2 []EndpointAddress, ports 3 []EndpointPort
EndpointAddress = ip 1 *s, hostname 3 s, nodeName 4 *s, targetRef 2 ObjectReference
EndpointPort = name 1 s, port 2 *i, protocol 3 s, appProtocol 4 *s
NodeSpec = podCIDR 1 s, podCIDRs 7 []s, providerID 3 s, unschedulable 4 b, taints 5 []Taint,
    configSource 6 NodeConfigSource, externalID 2 s
NodeConfigSource = configMap 2 ConfigMapNodeConfigSource
ConfigMapNodeConfigSource = namespace 1 *s, name 2 *s, uid 3 s, resourceVersion 4 s, kubeletConfigKey 5 *s
DaemonEndpoint = Port 1 *i
NodeDaemonEndpoints = kubeletEndpoint 1 DaemonEndpoint
NodeSystemInfo = machineID 1 *s, systemUUID 2 *s, bootID 3 *s, kernelVersion 4 *s, osImage 5 *s,
    containerRuntimeVersion 6 *s, kubeletVersion 7 *s, kubeProxyVersion 8 *s, operatingSystem 9 *s, architecture 10 *s
NodeConfigStatus = assigned 1 NodeConfigSource, active 2 NodeConfigSource, lastKnownGood 3 NodeConfigSource, error 4 s
NodeStatus = capacity 1 {q}, allocatable 2 {q}, phase 3 s, conditions 4 []NodeCondition, addresses 5 []NodeAddress,
    daemonEndpoints 6 NodeDaemonEndpoints, nodeInfo 7 NodeSystemInfo, images 8 []ContainerImage, volumesInUse 9 []s,
    volumesAttached 10 []AttachedVolume, config 11 NodeConfigStatus
AttachedVolume = name 1 *s, devicePath 2 *s
ContainerImage = names 1 []s, sizeBytes 2 i
NodeCondition = type 1 *s, status 2 *s, lastHeartbeatTime 3 time, lastTransitionTime 4 time, reason 5 s, message 6 s
NodeAddress = type 1 *s, address 2 *s
Node = metadata 1 ObjectMeta, spec 2 NodeSpec, status 3 NodeStatus
NamespaceSpec = finalizers 1 []s
NamespaceStatus = phase 1 s, conditions 2 []NamespaceCondition
NamespaceCondition = type 1 *s, status 2 *s, lastTransitionTime 4 time, reason 5 s, message 6 s
Namespace = metadata 1 ObjectMeta, spec 2 NamespaceSpec, status 3 NamespaceStatus
Binding = metadata 1 ObjectMeta, target 2 ObjectReference
ObjectReference = kind 1 s, namespace 2 s, name 3 s, uid 4 s, apiVersion 5 s, resourceVersion 6 s, fieldPath 7 s
LocalObjectReference = name 1 s
TypedLocalObjectReference = apiGroup 1 *s, kind 2 *s, name 3 *s
EventSource = component 1 s, host 2 s
Event = metadata 1 ObjectMeta, involvedObject 2 ObjectReference, reason 3 s, message 4 s, source 5 EventSource,
    firstTimestamp 6 time, lastTimestamp 7 time, count 8 i, type 9 s, eventTime 10 mtime, series 11 EventSeries,
    action 12 s, related 13 ObjectReference, reportingComponent 14 *s, reportingInstance 15 *s
EventSeries = count 1 i, lastObservedTime 2 mtime
LimitRangeItem = type 1 *s, max 2 {q}, min 3 {q}, default 4 {q}, defaultRequest 5 {q}, maxLimitRequestRatio 6 {q}
LimitRangeSpec = limits 1 []LimitRangeItem
LimitRange = metadata 1 ObjectMeta, spec 2 LimitRangeSpec
ResourceQuotaSpec = hard 1 {q}, scopes 2 []s, scopeSelector 3 ScopeSelector
ScopeSelector = matchExpressions 1 []ScopedResourceSelectorRequirement
ScopedResourceSelectorRequirement = scopeName 1 *s, operator 2 *s, values 3 []s
ResourceQuotaStatus = hard 1 {q}, used 2 {q}
ResourceQuota = metadata 1 ObjectMeta, spec 2 ResourceQuotaSpec, status 3 ResourceQuotaStatus
Secret = metadata 1 ObjectMeta, immutable 5 *b, data 2 {y}, stringData 4 {s}, type 3 s
ConfigMap = metadata 1 ObjectMeta, immutable 4 *b, data 2 {s}, binaryData 3 {y}
DownwardAPIVolumeSource = items 1 []DownwardAPIVolumeFile, defaultMode 2 *i
DownwardAPIVolumeFile = path 1 *s, fieldRef 2 ObjectFieldSelector, resourceFieldRef 3 ResourceFieldSelector, mode 4 *i
DownwardAPIProjection = items 1 []DownwardAPIVolumeFile
SecurityContext = capabilities 1 Capabilities, privileged 2 *b, seLinuxOptions 3 SELinuxOptions,
    windowsOptions 10 WindowsSecurityContextOptions, runAsUser 4 *i, runAsGroup 8 *i, runAsNonRoot 5 *b,
    readOnlyRootFilesystem 6 *b, allowPrivilegeEscalation 7 *b, procMount 9 *s, seccompProfile 11 SeccompProfile
SELinuxOptions = user 1 s, role 2 s, type 3 s, level 4 s
WindowsSecurityContextOptions = gmsaCredentialSpecName 1 *s, gmsaCredentialSpec 2 *s, runAsUserName 3 *s,
    hostProcess 4 *b
Sysctl = name 1 *s, value 2 *s
PortStatus = port 1 *i, protocol 2 *s, error 3 *s
# apps/v1 (k8s.io/api/apps/v1)
StatefulSet = metadata 1 ObjectMeta, spec 2 StatefulSetSpec, status 3 StatefulSetStatus
StatefulSetUpdateStrategy = type 1 s, rollingUpdate 2 RollingUpdateStatefulSetStrategy
RollingUpdateStatefulSetStrategy = partition 1 *i, maxUnavailable 2 *ios
StatefulSetPersistentVolumeClaimRetentionPolicy = whenDeleted 1 s, whenScaled 2 s
StatefulSetOrdinals = start 1 *i
StatefulSetSpec = replicas 1 *i, selector 2 LabelSelector, template 3 PodTemplateSpec,
    volumeClaimTemplates 4 []PersistentVolumeClaim, serviceName 5 *s, podManagementPolicy 6 s,
    updateStrategy 7 StatefulSetUpdateStrategy, revisionHistoryLimit 8 *i, minReadySeconds 9 i,
    persistentVolumeClaimRetentionPolicy 10 StatefulSetPersistentVolumeClaimRetentionPolicy,
    ordinals 11 StatefulSetOrdinals
StatefulSetStatus = observedGeneration 1 i, replicas 2 *i, readyReplicas 3 i, currentReplicas 4 i, updatedReplicas 5 i,
    currentRevision 6 s, updateRevision 7 s, collisionCount 9 *i, conditions 10 []StatefulSetCondition,
    availableReplicas 11 *i
StatefulSetCondition = type 1 *s, status 2 *s, lastTransitionTime 3 time, reason 4 s, message 5 s
Deployment = metadata 1 ObjectMeta, spec 2 DeploymentSpec, status 3 DeploymentStatus
DeploymentSpec = replicas 1 *i, selector 2 LabelSelector, template 3 PodTemplateSpec, strategy 4 DeploymentStrategy,
    minReadySeconds 5 i, revisionHistoryLimit 6 *i, paused 7 b, progressDeadlineSeconds 9 *i,
    podReplacementPolicy 10 *s
DeploymentStrategy = type 1 s, rollingUpdate 2 RollingUpdateDeployment
RollingUpdateDeployment = maxUnavailable 1 *ios, maxSurge 2 *ios
DeploymentStatus = observedGeneration 1 i, replicas 2 i, updatedReplicas 3 i, readyReplicas 7 i, availableReplicas 4 i,
    unavailableReplicas 5 i, terminatingReplicas 9 *i, conditions 6 []DeploymentCondition, collisionCount 8 *i
DeploymentCondition = type 1 *s, status 2 *s, lastUpdateTime 6 time, lastTransitionTime 7 time, reason 4 s,
    message 5 s
DaemonSetUpdateStrategy = type 1 s, rollingUpdate 2 RollingUpdateDaemonSet
RollingUpdateDaemonSet = maxUnavailable 1 *ios, maxSurge 2 *ios
DaemonSetSpec = selector 1 LabelSelector, template 2 PodTemplateSpec, updateStrategy 3 DaemonSetUpdateStrategy,
    minReadySeconds 4 i, revisionHistoryLimit 6 *i
DaemonSetStatus = currentNumberScheduled 1 *i, numberMisscheduled 2 *i, desiredNumberScheduled 3 *i, numberReady 4 *i,
    observedGeneration 5 i, updatedNumberScheduled 6 i, numberAvailable 7 i, numberUnavailable 8 i,
    collisionCount 9 *i, conditions 10 []DaemonSetCondition
DaemonSetCondition = type 1 *s, status 2 *s, lastTransitionTime 3 time, reason 4 s, message 5 s
DaemonSet = metadata 1 ObjectMeta, spec 2 DaemonSetSpec, status 3 DaemonSetStatus
ReplicaSet = metadata 1 ObjectMeta, spec 2 ReplicaSetSpec, status 3 ReplicaSetStatus
ReplicaSetSpec = replicas 1 *i, minReadySeconds 4 i, selector 2 LabelSelector, template 3 PodTemplateSpec
ReplicaSetStatus = replicas 1 *i, fullyLabeledReplicas 2 i, readyReplicas 4 i, availableReplicas 5 i,
    terminatingReplicas 7 *i, observedGeneration 3 i, conditions 6 []ReplicaSetCondition
ReplicaSetCondition = type 1 *s, status 2 *s, lastTransitionTime 3 time, reason 4 s, message 5 s
ControllerRevision = metadata 1 ObjectMeta, data 2 raw, revision 3 *i
# batch/v1 (k8s.io/api/batch/v1)
Job = metadata 1 ObjectMeta, spec 2 JobSpec, status 3 JobStatus
JobSpec = parallelism 1 *i, completions 2 *i, activeDeadlineSeconds 3 *i, podFailurePolicy 11 PodFailurePolicy,
    successPolicy 16 SuccessPolicy, backoffLimit 7 *i, backoffLimitPerIndex 12 *i, maxFailedIndexes 13 *i,
    selector 4 LabelSelector, manualSelector 5 *b, template 6 PodTemplateSpec, ttlSecondsAfterFinished 8 *i,
    completionMode 9 *s, suspend 10 *b, podReplacementPolicy 14 *s, managedBy 15 *s
SuccessPolicy = rules 1 []SuccessPolicyRule
SuccessPolicyRule = succeededIndexes 1 *s, succeededCount 2 *i
PodFailurePolicy = rules 1 []PodFailurePolicyRule
PodFailurePolicyRule = action 1 *s, onExitCodes 2 PodFailurePolicyOnExitCodesRequirement,
    onPodConditions 3 []PodFailurePolicyOnPodConditionsPattern
PodFailurePolicyOnExitCodesRequirement = containerName 1 *s, operator 2 *s, values 3 []i
PodFailurePolicyOnPodConditionsPattern = type 1 *s, status 2 *s
JobStatus = conditions 1 []JobCondition, startTime 2 time, completionTime 3 time, active 4 i, succeeded 5 i,
    failed 6 i, terminating 11 *i, completedIndexes 7 s, failedIndexes 10 *s,
    uncountedTerminatedPods 8 UncountedTerminatedPods, ready 9 *i
JobCondition = type 1 *s, status 2 *s, lastProbeTime 3 time, lastTransitionTime 4 time, reason 5 s, message 6 s
UncountedTerminatedPods = succeeded 1 []s, failed 2 []s
JobTemplateSpec = metadata 1 ObjectMeta, spec 2 JobSpec
CronJob = metadata 1 ObjectMeta, spec 2 CronJobSpec, status 3 CronJobStatus
CronJobSpec = schedule 1 *s, timeZone 8 *s, startingDeadlineSeconds 2 *i, concurrencyPolicy 3 s, suspend 4 *b,
    jobTemplate 5 JobTemplateSpec, successfulJobsHistoryLimit 6 *i, failedJobsHistoryLimit 7 *i
CronJobStatus = active 1 []ObjectReference, lastScheduleTime 4 time, lastSuccessfulTime 5 time
# networking.k8s.io/v1
Ingress = metadata 1 ObjectMeta, spec 2 IngressSpec, status 3 IngressStatus
IngressSpec = ingressClassName 4 *s, defaultBackend 1 IngressBackend, tls 2 []IngressTLS, rules 3 []IngressRule
IngressTLS = hosts 1 []s, secretName 2 s
IngressRule = host 1 s, ~ingressRuleValue 2 IngressRuleValue
IngressRuleValue = http 1 HTTPIngressRuleValue
HTTPIngressRuleValue = paths 1 []HTTPIngressPath
HTTPIngressPath = path 1 s, pathType 3 *s, backend 2 IngressBackend
IngressBackend = service 4 IngressServiceBackend, resource 3 TypedLocalObjectReference
IngressServiceBackend = name 1 *s, port 2 ServiceBackendPort
ServiceBackendPort = name 1 s, number 2 i
IngressStatus = loadBalancer 1 IngressLoadBalancerStatus
IngressLoadBalancerStatus = ingress 1 []IngressLoadBalancerIngress
IngressLoadBalancerIngress = ip 1 s, hostname 2 s, ports 4 []IngressPortStatus
IngressPortStatus = port 1 *i, protocol 2 *s, error 3 *s
IngressClass = metadata 1 ObjectMeta, spec 2 IngressClassSpec
IngressClassSpec = controller 1 s, parameters 2 IngressClassParametersReference
IngressClassParametersReference = apiGroup 1 *s, kind 2 *s, name 3 *s, scope 4 *s, namespace 5 *s
NetworkPolicy = metadata 1 ObjectMeta, spec 2 NetworkPolicySpec
NetworkPolicySpec = podSelector 1 LabelSelector, ingress 2 []NetworkPolicyIngressRule,
    egress 3 []NetworkPolicyEgressRule, policyTypes 4 []s
NetworkPolicyIngressRule = ports 1 []NetworkPolicyPort, from 2 []NetworkPolicyPeer
NetworkPolicyEgressRule = ports 1 []NetworkPolicyPort, to 2 []NetworkPolicyPeer
NetworkPolicyPort = protocol 1 *s, port 2 *ios, endPort 3 *i
NetworkPolicyPeer = podSelector 1 LabelSelector, namespaceSelector 2 LabelSelector, ipBlock 3 IPBlock
IPBlock = cidr 1 *s, except 2 []s
# autoscaling/v2
HorizontalPodAutoscaler = metadata 1 ObjectMeta, spec 2 HorizontalPodAutoscalerSpec,
    status 3 HorizontalPodAutoscalerStatus
CrossVersionObjectReference = kind 1 *s, name 2 *s, apiVersion 3 s
HorizontalPodAutoscalerSpec = scaleTargetRef 1 CrossVersionObjectReference, minReplicas 2 *i, maxReplicas 3 *i,
    metrics 4 []MetricSpec, behavior 5 HorizontalPodAutoscalerBehavior
HorizontalPodAutoscalerBehavior = scaleUp 1 HPAScalingRules, scaleDown 2 HPAScalingRules
HPAScalingRules = stabilizationWindowSeconds 3 *i, selectPolicy 1 *s, policies 2 []HPAScalingPolicy, tolerance 4 q
HPAScalingPolicy = type 1 *s, value 2 *i, periodSeconds 3 *i
MetricSpec = type 1 *s, object 2 ObjectMetricSource, pods 3 PodsMetricSource, resource 4 ResourceMetricSource,
    containerResource 7 ContainerResourceMetricSource, external 5 ExternalMetricSource
ObjectMetricSource = describedObject 1 CrossVersionObjectReference, target 2 MetricTarget, metric 3 MetricIdentifier
PodsMetricSource = metric 1 MetricIdentifier, target 2 MetricTarget
ResourceMetricSource = name 1 *s, target 2 MetricTarget
ContainerResourceMetricSource = name 1 *s, target 2 MetricTarget, container 3 *s
ExternalMetricSource = metric 1 MetricIdentifier, target 2 MetricTarget
MetricIdentifier = name 1 *s, selector 2 LabelSelector
MetricTarget = type 1 *s, value 2 q, averageValue 3 q, averageUtilization 4 *i
HorizontalPodAutoscalerStatus = observedGeneration 1 *i, lastScaleTime 2 time, currentReplicas 3 i,
    desiredReplicas 4 *i, currentMetrics 5 []MetricStatus, conditions 6 []HorizontalPodAutoscalerCondition
MetricStatus = type 1 *s, object 2 ObjectMetricStatus, pods 3 PodsMetricStatus, resource 4 ResourceMetricStatus,
    containerResource 7 ContainerResourceMetricStatus, external 5 ExternalMetricStatus
ObjectMetricStatus = metric 1 MetricIdentifier, current 2 MetricValueStatus,
    describedObject 3 CrossVersionObjectReference
PodsMetricStatus = metric 1 MetricIdentifier, current 2 MetricValueStatus
ResourceMetricStatus = name 1 *s, current 2 MetricValueStatus
ContainerResourceMetricStatus = name 1 *s, current 2 MetricValueStatus, container 3 *s
ExternalMetricStatus = metric 1 MetricIdentifier, current 2 MetricValueStatus
MetricValueStatus = value 1 q, averageValue 2 q, averageUtilization 3 *i
HorizontalPodAutoscalerCondition = type 1 *s, status 2 *s, lastTransitionTime 3 time, reason 4 s, message 5 s
# autoscaling/v1
HorizontalPodAutoscalerV1 = metadata 1 ObjectMeta, spec 2 HorizontalPodAutoscalerSpecV1,
    status 3 HorizontalPodAutoscalerStatusV1
HorizontalPodAutoscalerSpecV1 = scaleTargetRef 1 CrossVersionObjectReference, minReplicas 2 *i, maxReplicas 3 *i,
    targetCPUUtilizationPercentage 4 *i
HorizontalPodAutoscalerStatusV1 = observedGeneration 1 *i, lastScaleTime 2 time, currentReplicas 3 *i,
    desiredReplicas 4 *i, currentCPUUtilizationPercentage 5 *i
Scale = metadata 1 ObjectMeta, spec 2 ScaleSpec, status 3 ScaleStatus
ScaleSpec = replicas 1 i
ScaleStatus = replicas 1 *i, selector 2 s
# policy/v1
PodDisruptionBudget = metadata 1 ObjectMeta, spec 2 PodDisruptionBudgetSpec, status 3 PodDisruptionBudgetStatus
PodDisruptionBudgetSpec = minAvailable 1 *ios, selector 2 LabelSelector, maxUnavailable 3 *ios,
    unhealthyPodEvictionPolicy 4 *s
PodDisruptionBudgetStatus = observedGeneration 1 i, disruptedPods 2 {time}, disruptionsAllowed 3 *i,
    currentHealthy 4 *i, desiredHealthy 5 *i, expectedPods 6 *i, conditions 7 []Condition
Eviction = metadata 1 ObjectMeta, deleteOptions 2 DeleteOptions
# storage.k8s.io/v1
StorageClass = metadata 1 ObjectMeta, provisioner 2 *s, parameters 3 {s}, reclaimPolicy 4 *s, mountOptions 5 []s,
    allowVolumeExpansion 6 *b, volumeBindingMode 7 *s, allowedTopologies 8 []TopologySelectorTerm
# rbac.authorization.k8s.io/v1
PolicyRule = verbs 1 []s, apiGroups 2 []s, resources 3 []s, resourceNames 4 []s, nonResourceURLs 5 []s
AggregationRule = clusterRoleSelectors 1 []LabelSelector
Subject = kind 1 *s, apiGroup 2 s, name 3 *s, namespace 4 s
RoleRef = apiGroup 1 *s, kind 2 *s, name 3 *s
Role = metadata 1 ObjectMeta, rules 2 []PolicyRule
ClusterRole = metadata 1 ObjectMeta, rules 2 []PolicyRule, aggregationRule 3 AggregationRule
RoleBinding = metadata 1 ObjectMeta, subjects 2 []Subject, roleRef 3 RoleRef
ClusterRoleBinding = RoleBinding
# authorization.k8s.io/v1 and authentication.k8s.io/v1 (requests only: their answers stay JSON)
ResourceAttributes = namespace 1 s, verb 2 s, group 3 s, version 4 s, resource 5 s, subresource 6 s, name 7 s
NonResourceAttributes = path 1 s, verb 2 s
SelfSubjectAccessReviewSpec = resourceAttributes 1 ResourceAttributes, nonResourceAttributes 2 NonResourceAttributes
SubjectAccessReviewSpec = resourceAttributes 1 ResourceAttributes, nonResourceAttributes 2 NonResourceAttributes,
    user 3 s, groups 4 []s, uid 6 s
SelfSubjectRulesReviewSpec = namespace 1 s
SelfSubjectAccessReview = metadata 1 ObjectMeta, spec 2 SelfSubjectAccessReviewSpec
SubjectAccessReview = metadata 1 ObjectMeta, spec 2 SubjectAccessReviewSpec
LocalSubjectAccessReview = SubjectAccessReview
SelfSubjectRulesReview = metadata 1 ObjectMeta, spec 2 SelfSubjectRulesReviewSpec
SelfSubjectReview = metadata 1 ObjectMeta
"""

# (apiVersion, kind) -> message; "<Kind>List" of any of these is {metadata: ListMeta, items: [Kind]}
KINDS = {
    **{
        ("v1", kind): kind
        for kind in (
            "Namespace",
            "Node",
            "Pod",
            "Service",
            "Endpoints",
            "Event",
            "ConfigMap",
            "Secret",
            "PersistentVolumeClaim",
            "PersistentVolume",
            "ResourceQuota",
            "LimitRange",
            "ServiceAccount",
            "Binding",
            "PodTemplate",
            "ReplicationController",
            "Status",
        )
    },
    **{
        ("apps/v1", kind): kind
        for kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ControllerRevision")
    },
    **{("batch/v1", kind): kind for kind in ("Job", "CronJob")},
    **{("networking.k8s.io/v1", kind): kind for kind in ("Ingress", "IngressClass", "NetworkPolicy")},
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "HorizontalPodAutoscaler",
    ("autoscaling/v1", "HorizontalPodAutoscaler"): "HorizontalPodAutoscalerV1",
    ("autoscaling/v1", "Scale"): "Scale",
    ("policy/v1", "PodDisruptionBudget"): "PodDisruptionBudget",
    ("policy/v1", "Eviction"): "Eviction",
    ("storage.k8s.io/v1", "StorageClass"): "StorageClass",
    **{
        ("rbac.authorization.k8s.io/v1", kind): kind
        for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    },
    **{
        ("authorization.k8s.io/v1", kind): kind
        for kind in (
            "SelfSubjectAccessReview",
            "SubjectAccessReview",
            "LocalSubjectAccessReview",
            "SelfSubjectRulesReview",
        )
    },
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
}
SCALARS = {"s", "b", "i", "y", "time", "mtime", "q", "ios", "raw", "fields"}


@dataclass(frozen=True)
class Field:
    name: str  # the JSON name
    number: int
    type: str  # a scalar of SCALARS or a message name
    repeated: bool = False
    map: bool = False  # map<string, type>
    keep_zero: bool = False
    inline: bool = False


def parse(text):
    """{message: {number: Field}} from the schema text."""
    lines, messages = [], {}
    for line in text.splitlines():
        if line.startswith("    "):
            lines[-1] += " " + line.strip()
        elif line and not line.startswith("#"):
            lines.append(line)
    aliases = {}
    for line in lines:
        name, body = (part.strip() for part in line.split("=", 1))
        if " " not in body:
            aliases[name] = body
            continue
        fields = {}
        for spec in body.split(","):
            json_name, number, kind = spec.split()
            field = Field(json_name.lstrip("~"), int(number), kind, inline=json_name.startswith("~"))
            if kind.startswith("[]"):
                field = Field(field.name, field.number, kind[2:], repeated=True)
            elif kind.startswith("{"):
                field = Field(field.name, field.number, kind[1:-1], map=True)
            elif kind.startswith("*"):
                field = Field(field.name, field.number, kind[1:], keep_zero=True, inline=field.inline)
            fields[field.number] = field
        messages[name] = fields
    for name, target in aliases.items():
        messages[name] = messages[target]
    for name, fields in messages.items():
        for field in fields.values():
            if field.type not in SCALARS and field.type not in messages:
                raise ValueError(f"{name}.{field.name}: unknown message {field.type}")
    return messages


MESSAGES = parse(SCHEMA)
for _item in set(KINDS.values()):  # every kind's list: standard list metadata and the items
    MESSAGES[_item + "List"] = {1: Field("metadata", 1, "ListMeta"), 2: Field("items", 2, _item, repeated=True)}
