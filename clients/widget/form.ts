// The data-collection form's checks, the same as the server's
// (server/domain/queue.go CheckForm): the widget shows the same errors
// before sending, and the server's BadRequest details beside the fields
// when it still disagrees.

import { FormFieldType, type FormField } from "../gen/proactivechat/v1/site_pb";

// Limits by type where a field sets no max_length (characters).
const defaultMaxLength: Record<number, number> = {
  [FormFieldType.TEXT]: 200,
  [FormFieldType.TEXTAREA]: 2000,
  [FormFieldType.EMAIL]: 254,
  [FormFieldType.PHONE]: 32,
};

export function maxLength(f: Pick<FormField, "type" | "maxLength">): number {
  return f.maxLength || defaultMaxLength[f.type] || 0;
}

// RFC 5322 atext, as Go's net/mail reads it: printable ASCII except the
// specials, and any non-ASCII character.
const atom = "[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~\\u{80}-\\u{10ffff}]+";
const dotAtom = `${atom}(?:\\.${atom})*`;
const octet = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const emailRe = new RegExp(`^${dotAtom}@(?:${dotAtom}|\\[${octet}(?:\\.${octet}){3}\\])$`, "u");

/** isEmail: one @, a dot-atom (or IPv4 literal) domain with a dot, no spaces. */
export function isEmail(s: string): boolean {
  return emailRe.test(s) && s.slice(s.lastIndexOf("@") + 1).includes(".");
}

/** isPhone: digits, spaces and + ( ) - . (a + only first), 5 to 20 digits. */
export function isPhone(s: string): boolean {
  const digits = s.replace(/\D/g, "").length;
  return /^\+?[0-9 ().-]+$/.test(s) && digits >= 5 && digits <= 20;
}

/** checkField returns the error to show beside f for value, or "". */
export function checkField(f: FormField, value: string): string {
  const v = value.trim();
  if (v === "") {
    return f.required ? `${f.label} is required` : "";
  }
  const limit = maxLength(f);
  if ([...v].length > limit) {
    return `${f.label} must be at most ${limit} characters`;
  }
  if (f.type === FormFieldType.EMAIL && !isEmail(v)) {
    return `${f.label} must be an e-mail address like name@example.com`;
  }
  if (f.type === FormFieldType.PHONE && !isPhone(v)) {
    return `${f.label} must be a phone number (digits, spaces, + ( ) - .)`;
  }
  return "";
}

/** checkForm returns the errors by field key; empty when all pass. */
export function checkForm(fields: FormField[], values: Record<string, string>): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const e = checkField(f, values[f.key] ?? "");
    if (e) errors[f.key] = e;
  }
  return errors;
}
