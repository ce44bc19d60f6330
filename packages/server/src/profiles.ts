import type { ProfileDefinition } from '@hearth/api';

/** The built-in profile: a Docker image and a command, as on Qarnot (reference §2.1). */
export const DOCKER_BATCH: ProfileDefinition = {
  name: 'docker-batch',
  constants: [
    { name: 'DOCKER_REPO', value: 'library/ubuntu', description: 'Image repository the instance runs in' },
    { name: 'DOCKER_TAG', value: 'latest', description: 'Image tag' },
    { name: 'DOCKER_CMD', value: 'echo hello from ${INSTANCE_ID}', description: 'Command run through /bin/sh -c' },
    { name: 'DOCKER_WORKDIR', value: '/job', description: 'Working directory: resources appear there, results are taken from there' },
    { name: 'DOCKER_REGISTRY_LOGIN', value: '', description: 'Registry login (no registry is contacted by a self-hosted server without network)' },
    { name: 'DOCKER_REGISTRY_PASSWORD', value: '', description: 'Registry password' },
    { name: 'DOCKER_USER', value: '', description: 'User the command runs as inside the container' },
    { name: 'DOCKER_HOST', value: '', description: 'Host name inside the container' },
    { name: 'DOCKER_PROGRESS1', value: '', description: 'Regex whose first group is the progress in percent, matched on stdout' },
  ],
};

export const BUILT_IN_PROFILES: readonly ProfileDefinition[] = [DOCKER_BATCH];
