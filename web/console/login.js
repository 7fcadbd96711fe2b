// The login form: posts the account and password as JSON with the login page's CSRF token, then
// opens the console. A refusal (wrong password, too many failures) is shown as the server says it.
const form = document.getElementById('login');
const error = document.getElementById('login-error');
const csrf = document.querySelector('meta[name="csrf-token"]').content;

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.textContent = '';
  const fields = new FormData(form);
  const response = await fetch('/admin/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify({ account: fields.get('account'), password: fields.get('password') }),
    credentials: 'same-origin',
  });
  if (response.ok) {
    location.assign('/admin/');
    return;
  }
  const answer = await response.json().catch(() => ({}));
  error.textContent = answer.error ?? `login failed (${response.status})`;
});
