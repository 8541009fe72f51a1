// The widget's styles, inside its shadow root: the host page's CSS does not
// reach in, and these rules do not reach out. :host resets what would be
// inherited from the page (fonts, colours, line height).

export const css = `
:host{all:initial!important;position:fixed!important;z-index:2147483000!important;right:16px!important;bottom:16px!important;display:block!important;width:auto!important;height:auto!important;margin:0!important;padding:0!important}
:host([hidden]) .panel{display:none!important}
[hidden]{display:none!important}
*{box-sizing:border-box;font:inherit;color:inherit;margin:0;padding:0}
.panel{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1c2430;background:#fff;width:360px;max-width:calc(100vw - 32px);max-height:min(560px,calc(100vh - 32px));display:flex;flex-direction:column;border-radius:12px;box-shadow:0 8px 32px rgba(16,24,40,.22),0 1px 3px rgba(16,24,40,.12);overflow:hidden;text-align:left;direction:ltr}
.head{display:flex;align-items:center;gap:8px;background:#1f4fd1;color:#fff;padding:10px 8px 10px 16px;flex:none}
.titles{flex:1;min-width:0}
h2{font-size:15px;font-weight:600;min-width:0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.status{display:block;font-size:12px;opacity:.85}
.status:empty{display:none}
.line{display:flex;align-items:center;gap:6px;min-width:0}
.badge{flex:none;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#fff;color:#1f4fd1;font-size:12px;font-weight:700;line-height:20px;text-align:center}
.preview{display:none;font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.min .preview{display:block}
.panel:focus{outline:none}
.head button{background:transparent;border:0;color:#fff;width:32px;height:32px;border-radius:6px;font-size:20px;line-height:1;cursor:pointer;flex:none}
.head button:hover{background:rgba(255,255,255,.16)}
button:focus-visible,input:focus,textarea:focus{outline:2px solid #1f4fd1;outline-offset:1px}
.head button:focus-visible{outline-color:#fff}
.body{padding:16px;overflow-y:auto;flex:1;min-height:0;display:flex;flex-direction:column;gap:12px}
.min .body{display:none}
.actions{display:flex;gap:8px}
.body form{display:flex;flex-direction:column;gap:12px}
.btn{border:1px solid #1f4fd1;background:#fff;color:#1f4fd1;border-radius:8px;padding:8px 16px;font-weight:600;cursor:pointer}
.btn.primary{background:#1f4fd1;color:#fff}
.btn:hover{filter:brightness(.95)}
.btn:disabled{opacity:.5;cursor:default}
.field{display:flex;flex-direction:column;gap:4px}
label{font-weight:600;font-size:13px}
.req{color:#d1242f;margin-left:2px}
input,textarea{border:1px solid #aab3c0;border-radius:6px;padding:8px;background:#fff;color:#1c2430;width:100%;font-size:16px}
textarea{resize:vertical;min-height:64px}
[aria-invalid=true]{border-color:#d1242f}
.err{color:#b3261e;font-size:12px}
.err:empty{display:none}
.hint{font-size:12px;color:#5b6573}
.big{font-size:22px;font-weight:700}
.log{display:flex;flex-direction:column;gap:8px;overflow-y:auto;flex:1;min-height:120px;padding:12px 16px}
.chat{display:flex;flex-direction:column;min-height:0;flex:1}
.min .chat{display:none}
.msg{max-width:85%;padding:8px 12px;border-radius:12px;background:#eef1f6;align-self:flex-start;white-space:pre-wrap;overflow-wrap:anywhere}
.msg.me{align-self:flex-end;background:#1f4fd1;color:#fff}
.who{display:block;font-size:11px;font-weight:600;opacity:.75}
.msg.pending{opacity:.7}
.note{font-size:12px;color:#5b6573;text-align:center;align-self:center}
.typing{font-size:12px;color:#5b6573;padding:0 16px;min-height:18px}
.composer{display:flex;gap:8px;padding:8px 12px 12px;border-top:1px solid #e3e7ee;flex:none}
.composer textarea{min-height:40px;max-height:120px;resize:none}
.launcher{font:600 15px/1.2 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;background:#1f4fd1;color:#fff;border:0;border-radius:24px;min-height:48px;min-width:48px;padding:12px 20px;cursor:pointer;box-shadow:0 4px 16px rgba(16,24,40,.25)}
.launcher:focus-visible{outline:3px solid #1c2430;outline-offset:2px}
.rate{display:flex;flex-direction:column;gap:8px;padding:8px 12px 12px;border-top:1px solid #e3e7ee;flex:none}
.rate .q{font-weight:600}
.stars{display:flex;gap:2px}
.stars input{position:absolute;opacity:0;width:1px;height:1px}
.stars label{font-size:28px;line-height:1;color:#aab3c0;cursor:pointer;min-width:44px;min-height:44px;display:flex;align-items:center;justify-content:center;border-radius:6px}
.stars label.on{color:#e8a400}
.stars input:focus-visible+label{outline:2px solid #1f4fd1}
.thanks{padding:8px 12px 12px}
.launchers{display:flex;flex-direction:column;align-items:flex-end;gap:8px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (pointer:coarse){
.head button{width:44px;height:44px}
.btn{min-width:44px;min-height:44px}
.actions{gap:12px}
}
@media (max-width:480px){
:host{left:0!important;right:0!important;bottom:0!important}
.panel{width:100vw;max-width:100vw;max-height:85vh;border-radius:12px 12px 0 0}
}
`;
