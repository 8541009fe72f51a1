import type { ReactNode } from "react";
import { FormFieldType } from "../../../gen/proactivechat/v1/site_pb";
import type { FormFieldDraft } from "../state/settings";
import { emptyFormField, fieldTypeLabels } from "../state/settings";

// The admin page's form parts: a labelled field with its hint and error,
// and the data-collection form editor (a rule's form).

/**
 * FormFieldsEditor edits a data-collection form: fields in display order,
 * moved up and down, added and removed. Errors come by field path under
 * path ("proactive_chat.rules[0].form_fields[1].key"); idPrefix keeps the
 * inputs' ids unique on the page.
 */
export function FormFieldsEditor({
  fields,
  onChange,
  path,
  idPrefix,
  legend,
  err,
}: {
  fields: FormFieldDraft[];
  onChange: (fields: FormFieldDraft[]) => void;
  path: string;
  idPrefix: string;
  legend: string;
  err: (path: string) => string | undefined;
}) {
  const setField = (i: number, patch: Partial<FormFieldDraft>) => onChange(fields.map((f, j) => (j === i ? { ...f, ...patch } : f)));
  const moveField = (i: number, by: number) => {
    const list = [...fields];
    const [f] = list.splice(i, 1);
    list.splice(i + by, 0, f);
    onChange(list);
  };
  return (
    <fieldset data-testid="form-fields-editor">
      <legend>{legend}</legend>
      <FieldError id={`${idPrefix}-fields-err`} msg={err(path)} />
      {fields.length === 0 && <p className="muted small">No fields: visitors go straight to the queue.</p>}
      {fields.map((f, i) => {
        const p = `${path}[${i}]`;
        const id = `${idPrefix}-ff-${i}`;
        return (
          <div className="form-field-row" key={i} data-testid="form-field-row">
            <Field id={`${id}-key`} label="Key" error={err(`${p}.key`)} hint="a–z, 0–9 and _">
              <input
                id={`${id}-key`}
                value={f.key}
                onChange={(e) => setField(i, { key: e.target.value })}
                data-testid="form-field-key"
                aria-invalid={!!err(`${p}.key`)}
                aria-describedby={err(`${p}.key`) ? `${id}-key-err` : undefined}
                placeholder="e.g. email"
              />
            </Field>
            <Field id={`${id}-label`} label="Label" error={err(`${p}.label`)}>
              <input
                id={`${id}-label`}
                value={f.label}
                onChange={(e) => setField(i, { label: e.target.value })}
                data-testid="form-field-label"
                aria-invalid={!!err(`${p}.label`)}
                aria-describedby={err(`${p}.label`) ? `${id}-label-err` : undefined}
              />
            </Field>
            <Field id={`${id}-type`} label="Type" error={err(`${p}.type`)}>
              <select
                id={`${id}-type`}
                value={f.type}
                onChange={(e) => setField(i, { type: Number(e.target.value) as FormFieldType })}
                data-testid="form-field-type"
              >
                {f.type === FormFieldType.UNSPECIFIED && <option value={0}>Choose…</option>}
                {fieldTypeLabels.map(([v, l]) => (
                  <option key={v} value={v}>
                    {l}
                  </option>
                ))}
              </select>
            </Field>
            <Field id={`${id}-max`} label="Max length" error={err(`${p}.max_length`)}>
              <input
                id={`${id}-max`}
                inputMode="numeric"
                value={f.maxLength}
                placeholder="default"
                onChange={(e) => setField(i, { maxLength: e.target.value })}
                data-testid="form-field-max-length"
                className="narrow"
              />
            </Field>
            <div className="check">
              <input
                type="checkbox"
                id={`${id}-required`}
                checked={f.required}
                onChange={(e) => setField(i, { required: e.target.checked })}
                data-testid="form-field-required"
              />
              <label htmlFor={`${id}-required`}>Required</label>
            </div>
            <div className="row-actions">
              <button type="button" className="ghost" disabled={i === 0} onClick={() => moveField(i, -1)} aria-label={`Move field ${i + 1} up`}>
                ↑
              </button>
              <button
                type="button"
                className="ghost"
                disabled={i === fields.length - 1}
                onClick={() => moveField(i, 1)}
                aria-label={`Move field ${i + 1} down`}
              >
                ↓
              </button>
              <button
                type="button"
                className="ghost danger"
                onClick={() => onChange(fields.filter((_, j) => j !== i))}
                data-testid="remove-form-field"
                aria-label={`Remove field ${i + 1}`}
              >
                Remove
              </button>
            </div>
          </div>
        );
      })}
      <button
        type="button"
        onClick={() => onChange([...fields, emptyFormField()])}
        data-testid="add-form-field"
        disabled={fields.length >= 20}
      >
        Add field
      </button>
    </fieldset>
  );
}

export function Field({
  id,
  label,
  error,
  hint,
  children,
}: {
  id: string;
  label: string;
  error?: string;
  hint?: string;
  children: ReactNode;
}) {
  return (
    <div className={`field${error ? " invalid" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && !error && (
        <span className="hint" id={`${id}-hint`}>
          {hint}
        </span>
      )}
      <FieldError id={`${id}-err`} msg={error} />
    </div>
  );
}

export function FieldError({ id, msg }: { id: string; msg?: string }) {
  if (!msg) return null;
  return (
    <span id={id} className="field-error" data-testid="field-error">
      {msg}
    </span>
  );
}


/**
 * SaveActions are a settings form's Save and Undo buttons. Saving needs an
 * admin API key: without one, Save is disabled and a hint (hintId) says why.
 * Undo puts the draft back as it was read.
 */
export function SaveActions({
  saving,
  changed,
  adminKey,
  hintId,
  saveLabel,
  saveTestId,
  hintTestId,
  onUndo,
  children,
}: {
  saving: boolean;
  changed: boolean;
  adminKey: string;
  hintId: string;
  saveLabel: string;
  saveTestId: string;
  hintTestId?: string;
  onUndo: () => void;
  children?: ReactNode;
}) {
  return (
    <div className="form-actions">
      <button
        type="submit"
        className="primary"
        disabled={saving || !changed || !adminKey}
        aria-describedby={adminKey ? undefined : hintId}
        data-testid={saveTestId}
      >
        {saving ? "Saving…" : saveLabel}
      </button>
      <button type="button" className="ghost" disabled={!changed} onClick={onUndo}>
        Undo changes
      </button>
      {!adminKey && (
        <span id={hintId} className="muted small" data-testid={hintTestId}>
          Saving needs an admin API key (above).
        </span>
      )}
      {children}
    </div>
  );
}
