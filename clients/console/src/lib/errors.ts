import { create, createFileRegistry } from "@bufbuild/protobuf";
import type { DescMessage } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";

/**
 * google.rpc.BadRequest, the detail the server attaches to INVALID_ARGUMENT
 * errors. Only the two fields the console shows are described; the others
 * are skipped as unknown fields when the detail is decoded.
 */
const errorDetailsFile = create(FileDescriptorProtoSchema, {
  name: "google/rpc/error_details.proto",
  package: "google.rpc",
  syntax: "proto3",
  messageType: [
    {
      name: "BadRequest",
      field: [
        {
          name: "field_violations",
          jsonName: "fieldViolations",
          number: 1,
          label: FieldDescriptorProto_Label.REPEATED,
          type: FieldDescriptorProto_Type.MESSAGE,
          typeName: ".google.rpc.BadRequest.FieldViolation",
        },
      ],
      nestedType: [
        {
          name: "FieldViolation",
          field: [
            {
              name: "field",
              jsonName: "field",
              number: 1,
              label: FieldDescriptorProto_Label.OPTIONAL,
              type: FieldDescriptorProto_Type.STRING,
            },
            {
              name: "description",
              jsonName: "description",
              number: 2,
              label: FieldDescriptorProto_Label.OPTIONAL,
              type: FieldDescriptorProto_Type.STRING,
            },
          ],
        },
      ],
    },
  ],
});

export const BadRequestSchema: DescMessage = createFileRegistry(errorDetailsFile, () => undefined).getMessage(
  "google.rpc.BadRequest",
)!;

export interface FieldViolation {
  field: string;
  description: string;
}

/** fieldViolations returns the BadRequest field violations of an error, if any. */
export function fieldViolations(err: unknown): FieldViolation[] {
  if (!(err instanceof ConnectError)) return [];
  const out: FieldViolation[] = [];
  for (const d of err.findDetails(BadRequestSchema)) {
    const list = (d as unknown as { fieldViolations?: FieldViolation[] }).fieldViolations ?? [];
    for (const v of list) out.push({ field: v.field, description: v.description });
  }
  return out;
}

/** violationsByField groups violations by field path, joining several descriptions. */
export function violationsByField(err: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of fieldViolations(err)) {
    out[v.field] = out[v.field] ? `${out[v.field]}; ${v.description}` : v.description;
  }
  return out;
}

/**
 * isRetryable says whether a call may be repeated as is: the network or the
 * server was briefly unavailable. (fetch failures surface as UNKNOWN.)
 */
export function isRetryable(err: unknown): boolean {
  const e = ConnectError.from(err);
  return (
    e.code === Code.Unavailable ||
    e.code === Code.Unknown ||
    e.code === Code.DeadlineExceeded ||
    e.code === Code.Aborted ||
    e.code === Code.ResourceExhausted
  );
}

/**
 * isFatalStreamError says a stream must not be reopened: the request itself
 * is wrong (unknown agent or chat, bad id), so reconnecting cannot help.
 */
export function isFatalStreamError(err: unknown): boolean {
  const e = ConnectError.from(err);
  return (
    e.code === Code.NotFound ||
    e.code === Code.InvalidArgument ||
    e.code === Code.PermissionDenied ||
    e.code === Code.Unauthenticated ||
    e.code === Code.Unimplemented
  );
}

/** errorText is the message to show for a failed call, without the "[code]" prefix. */
export function errorText(err: unknown): string {
  if (err == null) return "";
  const e = ConnectError.from(err);
  const msg = e.rawMessage || "request failed";
  switch (e.code) {
    case Code.Unknown:
    case Code.Unavailable:
      return `Cannot reach the server (${msg})`;
    default:
      return msg;
  }
}
