"""HTML of the lab's approval page (``/device``) and its result pages.

Phone-sized, plain HTML forms, no JavaScript: the page a phone opens from the
QR code on the printer's panel. Jinja templates rendered by Flask's
``render_template_string`` (auto-escaping on).

Thread rules: constants only.
"""

from __future__ import annotations

__all__ = ["APPROVAL_PAGE", "RESULT_PAGE", "NOT_SUPPORTED_PAGE"]

_LAYOUT_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }} - panel lab sign-in</title>
<style>
  :root { color-scheme: light dark; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 18px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  main { max-width: 28rem; margin: 0 auto; padding: 1.25rem; }
  h1 { font-size: 1.5rem; margin: 0.5rem 0 1rem; }
  label, legend { display: block; font-weight: 600; margin: 1rem 0 0.5rem; }
  input[type=text] { width: 100%; min-height: 3.5rem; font-size: 1.75rem;
    letter-spacing: 0.15em; text-align: center; text-transform: uppercase;
    padding: 0.5rem; border: 2px solid #888; border-radius: 0.5rem; }
  fieldset { border: 0; padding: 0; margin: 0; }
  .account { display: flex; align-items: center; min-height: 3.25rem; padding: 0 0.75rem;
    border: 2px solid #888; border-radius: 0.5rem; margin-bottom: 0.5rem; font-weight: 400; }
  .account input { width: 1.5rem; height: 1.5rem; margin-right: 0.75rem; }
  .buttons { display: flex; gap: 0.75rem; margin-top: 1.5rem; }
  button { flex: 1; min-height: 3.5rem; font-size: 1.25rem; font-weight: 600;
    border-radius: 0.5rem; border: 2px solid #1a5fb4; cursor: pointer; }
  button.approve { background: #1a5fb4; color: #fff; }
  button.deny { background: transparent; color: inherit; border-color: #888; }
  .error { border-left: 0.4rem solid #c01c28; padding: 0.5rem 0.75rem; margin: 1rem 0; }
  .result { font-size: 1.5rem; font-weight: 600; margin: 2rem 0 1rem; }
  .note { color: #777; font-size: 0.9rem; }
</style>
</head>
<body>
<main>
"""

_LAYOUT_FOOT = """
<p class="note">panel lab identity provider &middot; for tests and demonstrations only</p>
</main>
</body>
</html>
"""

APPROVAL_PAGE = (
    _LAYOUT_HEAD
    + """<h1>Sign in the printer</h1>
<p>Enter the code shown on the printer's panel, choose an account, then approve.</p>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
  <label for="user_code">Code</label>
  <input type="text" id="user_code" name="user_code" value="{{ user_code }}"
         placeholder="ABCD-EFGH" maxlength="9" autocomplete="off" autocorrect="off"
         autocapitalize="characters" spellcheck="false" required>
  <fieldset>
    <legend>Sign in as</legend>
    {% for account in accounts %}
    <label class="account"><input type="radio" name="account" value="{{ account }}"
      {% if account == selected %}checked{% endif %}>{{ account }}</label>
    {% endfor %}
  </fieldset>
  <div class="buttons">
    <button class="approve" type="submit" name="action" value="approve">Approve</button>
    <button class="deny" type="submit" name="action" value="deny">Deny</button>
  </div>
</form>
"""
    + _LAYOUT_FOOT
)

RESULT_PAGE = (
    _LAYOUT_HEAD
    + """<h1>Sign in the printer</h1>
<p class="result" role="status">{{ message }}</p>
{% if again %}<p><a href="{{ again }}">Enter another code</a></p>{% endif %}
"""
    + _LAYOUT_FOOT
)

NOT_SUPPORTED_PAGE = (
    _LAYOUT_HEAD
    + """<h1>Not supported</h1>
<p class="error" role="alert">The panel lab signs in devices with the device
authorization grant only. Open <a href="{{ device_page }}">{{ device_page }}</a>
and enter the code shown on the printer.</p>
"""
    + _LAYOUT_FOOT
)
