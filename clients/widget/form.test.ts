import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { FormFieldSchema, FormFieldType } from "../gen/proactivechat/v1/site_pb";
import { checkField, checkForm, isEmail, isPhone, maxLength } from "./form";
import fixture from "./testdata/form_cases.json";

interface Case {
  type: FormFieldType;
  required: boolean;
  maxLength: number;
  label: string;
  value: string;
  error: string;
}

// The same file drives server/web/formcheck_test.go through the server's
// domain.CheckForm: the widget must say exactly what the server says.
const cases = (fixture as { cases: Case[] }).cases;

describe("form checks, case by case as the server", () => {
  it("has cases", () => expect(cases.length).toBeGreaterThan(50));
  it.each(cases.map((c) => [FormFieldType[c.type], JSON.stringify(c.value).slice(0, 40), c] as const))(
    "%s %s",
    (_t, _v, c) => {
      const f = create(FormFieldSchema, { key: "f", label: c.label, type: c.type, required: c.required, maxLength: c.maxLength });
      expect(checkField(f, c.value)).toBe(c.error);
    },
  );
});

describe("form check helpers", () => {
  it("defaults the maximum length by type", () => {
    expect(maxLength({ type: FormFieldType.TEXT, maxLength: 0 })).toBe(200);
    expect(maxLength({ type: FormFieldType.TEXTAREA, maxLength: 0 })).toBe(2000);
    expect(maxLength({ type: FormFieldType.EMAIL, maxLength: 0 })).toBe(254);
    expect(maxLength({ type: FormFieldType.PHONE, maxLength: 0 })).toBe(32);
    expect(maxLength({ type: FormFieldType.TEXT, maxLength: 12 })).toBe(12);
  });

  it("reads e-mail addresses and phone numbers", () => {
    expect(isEmail("bo@example.com")).toBe(true);
    expect(isEmail("bo@example")).toBe(false);
    expect(isEmail("b o@example.com")).toBe(false);
    expect(isPhone("+1 (555) 123-4567")).toBe(true);
    expect(isPhone("1234")).toBe(false);
  });

  it("checks a whole form and names each failing field by key", () => {
    const fields = [
      create(FormFieldSchema, { key: "name", label: "Your name", type: FormFieldType.TEXT, required: true }),
      create(FormFieldSchema, { key: "email", label: "E-mail", type: FormFieldType.EMAIL, required: true }),
      create(FormFieldSchema, { key: "question", label: "How can we help?", type: FormFieldType.TEXTAREA }),
    ];
    expect(checkForm(fields, { name: " ", email: "nope" })).toEqual({
      name: "Your name is required",
      email: "E-mail must be an e-mail address like name@example.com",
    });
    expect(checkForm(fields, { name: "Bo", email: "bo@example.com" })).toEqual({});
  });
});
