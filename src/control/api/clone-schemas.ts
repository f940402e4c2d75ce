/**
 * The schemas of clones through the daemon (clones.ts): the answer of `POST /vms/restore`
 * with `clones`, for fastify's serializer and the OpenAPI document.
 */

export const cloneBatchSchema = {
  $id: "CloneBatch",
  type: "object",
  required: ["file", "network", "clones", "totalMs"],
  properties: {
    file: { type: "string" },
    network: { type: ["string", "null"], description: "the network the clones' NICs joined; null for a VM without a NIC" },
    clones: {
      type: "array",
      items: {
        type: "object",
        required: ["name", "mac", "ip", "runningMs", "readyMs"],
        properties: {
          name: { type: "string", description: "PREFIX-k" },
          mac: { type: ["string", "null"], description: "its NIC's MAC, derived from its name" },
          ip: { type: ["string", "null"], description: "the address it was given (CIDR), reserved for it until it is destroyed; null without ip" },
          runningMs: { type: "number", description: "from the request's start to this clone running" },
          readyMs: { type: "number", description: "from the request's start to this clone having taken its identity through its agent" },
        },
      },
    },
    totalMs: { type: "number", description: "the whole request" },
  },
} as const;
