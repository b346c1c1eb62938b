// The console's entry point: sign in with the API token (checked with one authenticated call, then
// kept in sessionStorage for this tab only), sign out, and the panels started once signed in.

import {
  ApiError,
  apiJson,
  clearToken,
  featureEnabled,
  messageOf,
  setUnauthorizedHandler,
  storedToken,
  storeToken,
} from './api.js';
import { byId } from './dom.js';
import { HealthPanel } from './health-panel.js';
import { JobsPanel } from './jobs-panel.js';
import { ReadingsPanel } from './readings-panel.js';
import { UploadPanel } from './upload-panel.js';

const signInSection = byId('sign-in-section', HTMLElement);
const signInForm = byId('sign-in-form', HTMLFormElement);
const tokenInput = byId('token', HTMLInputElement);
const signInError = byId('sign-in-error', HTMLElement);
const workspace = byId('workspace', HTMLElement);
const signOutButton = byId('sign-out', HTMLButtonElement);

const health = new HealthPanel();
const jobs = new JobsPanel();
const readings = new ReadingsPanel();
const upload = new UploadPanel((batchId) => {
  void jobs.showFirstPage();
  void jobs.open(batchId);
});

/** Direct uploads need a bucket, which a stage may lack (the route answers 501): asked once per sign-in. */
async function detectDirectUploads(): Promise<void> {
  upload.setDirectUploads(await featureEnabled('POST', '/api/import/uploads'));
}

function showWorkspace(): void {
  signInSection.hidden = true;
  workspace.hidden = false;
  signOutButton.hidden = false;
  void jobs.showFirstPage();
  void detectDirectUploads();
}

function showSignIn(message = ''): void {
  jobs.stop();
  readings.clear();
  workspace.hidden = true;
  signOutButton.hidden = true;
  signInSection.hidden = false;
  signInError.textContent = message;
  tokenInput.value = '';
  tokenInput.focus();
}

setUnauthorizedHandler(() => {
  if (storedToken() === null) return;
  clearToken();
  showSignIn('The API refused the token (it may have been rotated): sign in again.');
});

signInForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void signIn(tokenInput.value.trim());
});

signOutButton.addEventListener('click', () => {
  clearToken();
  showSignIn('Signed out.');
});

async function signIn(token: string): Promise<void> {
  if (token === '') {
    signInError.textContent = 'Enter the API token.';
    return;
  }
  signInError.textContent = 'Checking the token…';
  try {
    await apiJson('GET', '/api/import/jobs', { query: { limit: 1 }, token });
  } catch (error) {
    signInError.textContent =
      error instanceof ApiError && error.status === 401 ? 'That token was not accepted.' : messageOf(error);
    return;
  }
  storeToken(token);
  tokenInput.value = '';
  signInError.textContent = '';
  showWorkspace();
}

// Health needs no token: it shows before sign-in too.
health.start();
if (storedToken() === null) showSignIn();
else showWorkspace();
